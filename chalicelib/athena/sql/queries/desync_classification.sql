-- desync_classification: Requests HTTP desync mitigation did not classify as Acceptable.
SELECT /*account,*/ classification, classification_reason, count(*) AS requests
FROM alb_access_logs
WHERE day BETWEEN :start_day AND :end_day
  AND from_iso8601_timestamp(time) >= from_iso8601_timestamp(:start)
  AND from_iso8601_timestamp(time) < from_iso8601_timestamp(:end)
  AND (:elb = '' OR elb = :elb)/*origin*/
  AND classification IS NOT NULL
  AND classification <> 'Acceptable'
GROUP BY /*account,*/ classification, classification_reason
ORDER BY /*account,*/ requests DESC, classification, classification_reason
