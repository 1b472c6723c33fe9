-- status_codes: Requests per status code the load balancer answered with.
SELECT /*account,*/ elb_status_code, count(*) AS requests
FROM alb_access_logs
WHERE day BETWEEN :start_day AND :end_day
  AND from_iso8601_timestamp(time) >= from_iso8601_timestamp(:start)
  AND from_iso8601_timestamp(time) < from_iso8601_timestamp(:end)
  AND (:elb = '' OR elb = :elb)/*origin*/
GROUP BY /*account,*/ elb_status_code
ORDER BY /*account,*/ requests DESC, elb_status_code
