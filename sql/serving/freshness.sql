-- view: serving.freshness
-- description: One row saying how fresh and how complete the serving views are right now.
-- grain: one row
-- column: cutoff: Receive time up to which batch views are complete (NULL before the first
--   batch run).
-- column: batch_committed_at: When the batch run that set the cutoff committed.
-- column: batch_run_id: That run's id (ops.batch_runs).
-- column: newest_speed_received_at: Receive time of the newest event in the speed layer.
-- column: newest_speed_written_at: When the speed layer wrote its newest row.
-- column: speed_lag_seconds: Seconds between now and newest_speed_received_at.
-- column: batch_age_seconds: Seconds between now and the cutoff.
-- column: events_since_cutoff: Distinct events served from the speed layer.
-- column: forecast_run_id: The batch run whose forecast step wrote the demand forecast that
--   serving.replenishment and serving.stock_alerts read (NULL before the first forecast).
-- column: forecast_computed_at: When that forecast was made (its run's start).
-- column: forecast_age_seconds: Seconds between now and forecast_computed_at.
-- column: forecast_is_current: TRUE when the forecast comes from the batch run that set the
--   cutoff. FALSE means the newest run's forecast step failed (or the forecast is off):
--   purchase suggestions rest on an older forecast until a run refreshes it.
-- column: batch_every_seconds: The batch schedule as the runs kept it: the mean gap
--   between the last 8 committed runs (NULL before the second run).
-- column: forecast_overdue: TRUE when the forecast is older than one and a half gaps
--   between runs: a scheduled run did not happen or did not refresh it (a stopped
--   scheduler, failing runs). FALSE while runs keep to their schedule.
WITH c AS (
    SELECT
        -- Aliased: in BigQuery the bare table name `cutoff` would mean the whole row.
        ARRAY_AGG(
            STRUCT(b.cutoff AS cutoff, b.committed_at AS committed_at, b.run_id AS run_id)
            ORDER BY b.committed_at DESC LIMIT 1
        )[SAFE_OFFSET(0)] AS latest
    FROM batch.cutoff AS b
),

r AS (
    SELECT
        IF(
            COUNT(*) < 2,
            NULL,
            CAST(TIMESTAMP_DIFF(MAX(recent.committed_at), MIN(recent.committed_at), SECOND)
                AS FLOAT64) / (COUNT(*) - 1)
        ) AS every_seconds
    FROM (
        SELECT b.committed_at FROM batch.cutoff AS b ORDER BY b.committed_at DESC LIMIT 8
    ) AS recent
),

s AS (
    SELECT
        MAX(received_at) AS newest_received_at,
        MAX(written_at) AS newest_written_at
    FROM speed.events
),

e AS (
    SELECT COUNT(*) AS events FROM serving.events_since_cutoff
),

f AS (
    SELECT
        ARRAY_AGG(
            STRUCT(d.run_id AS run_id, d.computed_at AS computed_at)
            ORDER BY d.computed_at DESC LIMIT 1
        )[SAFE_OFFSET(0)] AS latest
    FROM batch.demand_forecast AS d
)

SELECT
    c.latest.cutoff,
    c.latest.committed_at AS batch_committed_at,
    c.latest.run_id AS batch_run_id,
    s.newest_received_at AS newest_speed_received_at,
    s.newest_written_at AS newest_speed_written_at,
    TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), s.newest_received_at, SECOND) AS speed_lag_seconds,
    TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), c.latest.cutoff, SECOND) AS batch_age_seconds,
    e.events AS events_since_cutoff,
    f.latest.run_id AS forecast_run_id,
    f.latest.computed_at AS forecast_computed_at,
    TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), f.latest.computed_at, SECOND) AS forecast_age_seconds,
    COALESCE(f.latest.run_id = c.latest.run_id, FALSE) AS forecast_is_current,
    r.every_seconds AS batch_every_seconds,
    COALESCE(
        TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), f.latest.computed_at, SECOND) > 1.5 * r.every_seconds,
        FALSE
    ) AS forecast_overdue
FROM c
CROSS JOIN r
CROSS JOIN s
CROSS JOIN e
CROSS JOIN f
