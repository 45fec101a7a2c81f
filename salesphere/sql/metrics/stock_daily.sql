-- view: batch.stock_daily
-- description: Stock movements per UTC day, store and SKU over the events a batch run
--   absorbed: the batch half of serving.stock_daily, from which serving.stock_alerts
--   reconstructs each day's closing stock. Additive columns only.
-- grain: stock_date, store_id, sku
-- column: stock_date: UTC date the movement happened (occurred_at).
-- column: store_id: Store id (reference.stores).
-- column: sku: Product SKU (reference.products).
-- column: units_sold: Units on sale lines (demand).
-- column: net_movement: Signed units moved (sales, returns, receipts, adjustments,
--   transfers); stock counts are snapshots and move nothing.
-- column: events: Stock-relevant events seen, counts included.
SELECT
    DATE(occurred_at) AS stock_date,
    store_id,
    sku,
    SUM(IF(event_type = 'sale', quantity, 0)) AS units_sold,
    SUM({{ signed_quantity }}) AS net_movement,
    COUNT(*) AS events
FROM {{ source }}
GROUP BY stock_date, store_id, sku
