-- tls_usage: Requests per TLS protocol and cipher (HTTPS listeners).
SELECT ssl_protocol, ssl_cipher, count(*) AS requests
FROM alb_access_logs
WHERE day BETWEEN :start_day AND :end_day
  AND from_iso8601_timestamp(time) >= from_iso8601_timestamp(:start)
  AND from_iso8601_timestamp(time) < from_iso8601_timestamp(:end)
  AND (:elb = '' OR elb = :elb)
  AND ssl_protocol IS NOT NULL
GROUP BY ssl_protocol, ssl_cipher
ORDER BY requests DESC, ssl_protocol, ssl_cipher
