-- view: serving.events_since_cutoff
-- description: The speed half of every serving view: accepted events the last committed
--   batch run has not absorbed. speed.events deduplicated by event_id (earliest receipt
--   wins, as in master), received at or after the cutoff, and not already in master.events
--   before the cutoff (a copy that reached the archive but not the speed layer first).
--   Both reads are bounded by constant windows BigQuery prunes partitions on, so a
--   dashboard query bills a few days of rows, not the whole history: speed.events
--   received in the last 3 days, and master.events received in the last 5 days for the
--   anti-join. Two consequences: while the batch is more than 3 days behind, events
--   received before the last 3 days count nowhere until a run absorbs them
--   (serving.freshness shows how far behind it is); and a copy re-sent more than 5 days
--   after the first one was absorbed counts twice until the next batch run absorbs it.
-- grain: event_id
-- column: event_id: Deterministic event id (salesphere/identity.py).
-- column: event_type: sale, return, stock_receipt, stock_adjustment, stock_count,
--   transfer_out, transfer_in or void (cancels the event named in source_ref; metrics read
--   serving.events_counted_since_cutoff, which applies it).
-- column: occurred_at: When it happened (UTC); aggregates use this.
-- column: received_at: When the platform first accepted it (UTC); the cutoff uses this.
-- column: source: Source system.
-- column: source_ref: The source's own reference.
-- column: store_id: Store id.
-- column: sku: Product SKU.
-- column: quantity: Units moved (the type gives the direction).
-- column: unit_price: Unit price (sales and returns, BRL).
-- column: discount: Line discount (BRL).
-- column: currency: ISO currency.
-- column: order_id: Order id (sales and returns).
-- column: line_number: Order line (sales and returns).
-- column: channel: store, online or backoffice.
-- column: counted_quantity: Units counted (stock counts only).
-- column: counterpart_store_id: The other store of a transfer.
-- column: schema_version: Canonical event schema version.
WITH cutoff AS (
    -- Aliased: in BigQuery the bare table name `cutoff` would mean the whole row.
    SELECT COALESCE(MAX(b.cutoff), TIMESTAMP '1970-01-01 00:00:00+00') AS cutoff
    FROM batch.cutoff AS b
),

speed_window AS (
    -- A constant bound (CURRENT_TIMESTAMP is fixed per query) prunes partitions; the
    -- cutoff, read from a table, cannot.
    SELECT s.*
    FROM speed.events AS s
    WHERE s.received_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 3 DAY)
),

recent_ids AS (
    SELECT DISTINCT s.event_id
    FROM speed_window AS s
    CROSS JOIN cutoff
    WHERE s.received_at >= cutoff.cutoff
),

first_copies AS (
    SELECT s.* EXCEPT (written_at)
    FROM speed_window AS s
    INNER JOIN recent_ids AS r ON s.event_id = r.event_id
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY s.event_id ORDER BY s.received_at, s.written_at
    ) = 1
)

SELECT f.*
FROM first_copies AS f
CROSS JOIN cutoff
WHERE
    f.received_at >= cutoff.cutoff
    AND f.event_id NOT IN (
        SELECT m.event_id
        FROM master.events AS m
        WHERE
            m.received_at < cutoff.cutoff
            AND m.received_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 5 DAY)
    )
