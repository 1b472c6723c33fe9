-- requests_per_minute: Requests, 4xx and 5xx per minute.
SELECT date_trunc('minute', from_iso8601_timestamp(time)) AS minute,
       count(*) AS requests,
       count_if(elb_status_code BETWEEN 400 AND 499) AS status_4xx,
       count_if(elb_status_code >= 500) AS status_5xx/*,account*/
FROM alb_access_logs
WHERE day BETWEEN :start_day AND :end_day
  AND from_iso8601_timestamp(time) >= from_iso8601_timestamp(:start)
  AND from_iso8601_timestamp(time) < from_iso8601_timestamp(:end)
  AND (:elb = '' OR elb = :elb)/*origin*/
GROUP BY 1/*,account*/
ORDER BY /*account,*/ 1
