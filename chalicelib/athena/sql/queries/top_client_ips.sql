-- top_client_ips: The clients sending the most requests.
-- param limit integer 20: how many clients
SELECT client_ip, requests
FROM (
    SELECT client_ip, count(*) AS requests, row_number() OVER (ORDER BY count(*) DESC) AS rank
    FROM alb_access_logs
    WHERE day BETWEEN :start_day AND :end_day
  AND from_iso8601_timestamp(time) >= from_iso8601_timestamp(:start)
  AND from_iso8601_timestamp(time) < from_iso8601_timestamp(:end)
  AND (:elb = '' OR elb = :elb)
    GROUP BY client_ip
)
WHERE rank <= :limit
ORDER BY requests DESC, client_ip
