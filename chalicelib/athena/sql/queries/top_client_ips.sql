-- top_client_ips: The clients sending the most requests.
-- param limit integer 20: how many clients
SELECT /*account,*/ client_ip, requests
FROM (
    SELECT /*account,*/ client_ip, count(*) AS requests, row_number() OVER (/*per_account*/ ORDER BY count(*) DESC) AS rank
    FROM alb_access_logs
    WHERE day BETWEEN :start_day AND :end_day
  AND from_iso8601_timestamp(time) >= from_iso8601_timestamp(:start)
  AND from_iso8601_timestamp(time) < from_iso8601_timestamp(:end)
  AND (:elb = '' OR elb = :elb)/*origin*/
    GROUP BY /*account,*/ client_ip
)
WHERE rank <= :limit
ORDER BY /*account,*/ requests DESC, client_ip
