-- top_5xx_paths: The URL paths (no query string) with the most 5xx answers.
-- param limit integer 20: how many paths
SELECT /*account,*/ path, requests
FROM (
    SELECT regexp_extract(request_url, '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*(/[^?#]*)', 1) AS path,
           count(*) AS requests,
           row_number() OVER (/*per_account*/ ORDER BY count(*) DESC) AS rank/*,account*/
    FROM alb_access_logs
    WHERE day BETWEEN :start_day AND :end_day
  AND from_iso8601_timestamp(time) >= from_iso8601_timestamp(:start)
  AND from_iso8601_timestamp(time) < from_iso8601_timestamp(:end)
  AND (:elb = '' OR elb = :elb)/*origin*/
      AND elb_status_code >= 500
    GROUP BY 1/*,account*/
)
WHERE rank <= :limit
ORDER BY /*account,*/ requests DESC, path
