-- view: serving.events_counted_since_cutoff
-- description: The speed half as every metric counts it (the source of the speed part of
--   serving.sales_daily, stock_daily, inventory_on_hand and sales_intraday):
--   serving.events_since_cutoff without voids and without the events any void cancels
--   (a fiscal document cancelled after it was counted), plus, for each event the batch
--   half absorbed and a void received after the cutoff cancels, its exact negation
--   (quantity and discount negated, so every sum takes it back) until the next batch run
--   absorbs the void and leaves both out. A voided document therefore counts nowhere on
--   either side of the cutoff, and never as a return. Its reads of master.events are
--   bounded to events received in the last 5 days (a constant window BigQuery prunes
--   partitions on): a void received after the cutoff takes back a batch event only if
--   that event was received in those 5 days (fiscal documents are cancelled within hours
--   of their issue), and a void absorbed by the batch more than 5 days ago no longer
--   hides a re-sent copy of the event it cancelled until the next batch run.
-- grain: event_id, negation
-- column: event_id: Deterministic event id (salesphere/identity.py); a negation keeps the
--   id of the event it takes back.
-- column: event_type: sale, return, stock_receipt, stock_adjustment, stock_count,
--   transfer_out or transfer_in (never void).
-- column: occurred_at: When it happened (UTC); a negation keeps the voided event's time,
--   so it takes back from the same business day.
-- column: received_at: When the platform first accepted it (UTC).
-- column: source: Source system.
-- column: source_ref: The source's own reference.
-- column: store_id: Store id.
-- column: sku: Product SKU.
-- column: quantity: Units moved (the type gives the direction); below zero on a negation.
-- column: unit_price: Unit price (sales and returns, BRL).
-- column: discount: Line discount (BRL); below zero on a negation.
-- column: currency: ISO currency.
-- column: order_id: Order id (sales and returns).
-- column: line_number: Order line (sales and returns).
-- column: channel: store, online or backoffice.
-- column: counted_quantity: Units counted (stock counts only).
-- column: counterpart_store_id: The other store of a transfer.
-- column: schema_version: Canonical event schema version.
-- column: negation: TRUE on the negation of a batch event voided after the cutoff.
WITH cutoff AS (
    SELECT COALESCE(MAX(b.cutoff), TIMESTAMP '1970-01-01 00:00:00+00') AS cutoff
    FROM batch.cutoff AS b
),

batch_voids AS (
    SELECT m.source_ref AS voided_id
    FROM master.events AS m
    CROSS JOIN cutoff
    WHERE
        m.event_type = 'void'
        AND m.received_at < cutoff.cutoff
        AND m.received_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 5 DAY)
        AND m.source_ref IS NOT NULL
),

speed_voids AS (
    SELECT s.source_ref AS voided_id
    FROM serving.events_since_cutoff AS s
    WHERE s.event_type = 'void' AND s.source_ref IS NOT NULL
)

SELECT
    e.*,
    FALSE AS negation
FROM serving.events_since_cutoff AS e
WHERE
    e.event_type != 'void'
    AND e.event_id NOT IN (SELECT bv.voided_id FROM batch_voids AS bv)
    AND e.event_id NOT IN (SELECT sv.voided_id FROM speed_voids AS sv)

UNION ALL

SELECT
    m.event_id,
    m.event_type,
    m.occurred_at,
    m.received_at,
    m.source,
    m.source_ref,
    m.store_id,
    m.sku,
    -m.quantity AS quantity,
    m.unit_price,
    -m.discount AS discount,
    m.currency,
    m.order_id,
    m.line_number,
    m.channel,
    m.counted_quantity,
    m.counterpart_store_id,
    m.schema_version,
    TRUE AS negation
FROM master.events AS m
CROSS JOIN cutoff
WHERE
    m.received_at < cutoff.cutoff
    AND m.received_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 5 DAY)
    AND m.event_type NOT IN ('void', 'stock_count')
    AND m.event_id IN (SELECT sv.voided_id FROM speed_voids AS sv)
    AND m.event_id NOT IN (SELECT bv.voided_id FROM batch_voids AS bv)
