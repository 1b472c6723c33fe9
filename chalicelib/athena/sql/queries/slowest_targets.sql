-- slowest_targets: Targets by 99th percentile processing time (undispatched -1 requests left out).
SELECT target_ip || ':' || CAST(target_port AS varchar) AS target,
       count(*) AS requests,
       approx_percentile(target_processing_time, 0.5) AS p50,
       approx_percentile(target_processing_time, 0.9) AS p90,
       approx_percentile(target_processing_time, 0.99) AS p99/*,account*/
FROM alb_access_logs
WHERE day BETWEEN :start_day AND :end_day
  AND from_iso8601_timestamp(time) >= from_iso8601_timestamp(:start)
  AND from_iso8601_timestamp(time) < from_iso8601_timestamp(:end)
  AND (:elb = '' OR elb = :elb)/*origin*/
  AND target_processing_time >= 0
  AND target_ip IS NOT NULL
GROUP BY 1/*,account*/
ORDER BY /*account,*/ p99 DESC, target
