-- tls_usage: Requests per TLS protocol and cipher (HTTPS listeners).
SELECT /*account,*/ ssl_protocol, ssl_cipher, count(*) AS requests
FROM alb_access_logs
WHERE day BETWEEN :start_day AND :end_day
  AND from_iso8601_timestamp(time) >= from_iso8601_timestamp(:start)
  AND from_iso8601_timestamp(time) < from_iso8601_timestamp(:end)
  AND (:elb = '' OR elb = :elb)/*origin*/
  AND ssl_protocol IS NOT NULL
GROUP BY /*account,*/ ssl_protocol, ssl_cipher
ORDER BY /*account,*/ requests DESC, ssl_protocol, ssl_cipher
