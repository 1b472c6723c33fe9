-- lambda_errors: Requests to Lambda targets that failed, per reason.
SELECT /*account,*/ lambda_error_reason, count(*) AS requests
FROM alb_access_logs
WHERE day BETWEEN :start_day AND :end_day
  AND from_iso8601_timestamp(time) >= from_iso8601_timestamp(:start)
  AND from_iso8601_timestamp(time) < from_iso8601_timestamp(:end)
  AND (:elb = '' OR elb = :elb)/*origin*/
  AND lambda_error_reason IS NOT NULL
GROUP BY /*account,*/ lambda_error_reason
ORDER BY /*account,*/ requests DESC, lambda_error_reason
