-- view: serving.data_quality
-- description: Rejected records by source and reason, beside each source's received,
--   accepted and rejected counts from ops.ingest_log, so a rising reject rate is visible
--   per source and its cause per rule.
-- grain: source, rule
-- column: source: Source system.
-- column: rule: Stable reject reason code (NULL on a source with no rejects).
-- column: rejects: Rejected records for this source and rule (ops.rejects; a record
--   breaking several rules appears under each).
-- column: records_received: Records the source sent (ops.ingest_log).
-- column: records_accepted: Records accepted.
-- column: records_rejected: Records rejected.
-- column: reject_rate: records_rejected / records_received.
WITH ledger AS (
    -- one row per request or file: a retried request may write its row twice
    SELECT * FROM ops.ingest_log
    QUALIFY ROW_NUMBER() OVER (PARTITION BY request_id ORDER BY received_at) = 1
),

totals AS (
    SELECT
        source,
        SUM(records_received) AS records_received,
        SUM(records_accepted) AS records_accepted,
        SUM(records_rejected) AS records_rejected
    FROM ledger
    GROUP BY source
),

by_rule AS (
    SELECT
        source,
        rule,
        COUNT(DISTINCT reject_id) AS rejects
    FROM ops.rejects
    GROUP BY source, rule
)

SELECT
    COALESCE(t.source, r.source) AS source,
    r.rule,
    COALESCE(r.rejects, 0) AS rejects,
    COALESCE(t.records_received, 0) AS records_received,
    COALESCE(t.records_accepted, 0) AS records_accepted,
    COALESCE(t.records_rejected, 0) AS records_rejected,
    SAFE_DIVIDE(t.records_rejected, t.records_received) AS reject_rate
FROM totals AS t
FULL OUTER JOIN by_rule AS r ON t.source = r.source
