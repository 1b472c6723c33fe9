-- rejected_requests: Requests the load balancer answered itself or could not dispatch, per status and reason.
SELECT elb_status_code,
       CASE
           WHEN elb_status_code = 460 THEN 'client closed the connection before the load balancer answered'
           WHEN elb_status_code = 463 THEN 'too many IP addresses in X-Forwarded-For'
           WHEN elb_status_code = 464 THEN 'protocol version not supported by the target group'
           WHEN target_ip IS NULL THEN 'not dispatched to a target'
           WHEN target_processing_time = -1 THEN 'target connection failed or timed out'
           ELSE 'the load balancer could not read the request or answer'
       END AS reason,
       count(*) AS requests/*,account*/
FROM alb_access_logs
WHERE day BETWEEN :start_day AND :end_day
  AND from_iso8601_timestamp(time) >= from_iso8601_timestamp(:start)
  AND from_iso8601_timestamp(time) < from_iso8601_timestamp(:end)
  AND (:elb = '' OR elb = :elb)/*origin*/
  AND (request_processing_time = -1 OR target_processing_time = -1 OR response_processing_time = -1
       OR elb_status_code IN (460, 463, 464))
GROUP BY 1, 2/*,account*/
ORDER BY /*account,*/ requests DESC, elb_status_code, reason
