-- view: batch.stock_daily
-- description: Stock movements per local business day, store and SKU over the events a
--   batch run absorbed: the batch half of serving.stock_daily, from which serving.stock_alerts
--   reconstructs each day's closing stock. Additive columns only.
-- grain: stock_date, store_id, sku
-- column: stock_date: Local business date the movement happened: occurred_at on the
--   store's clock (reference.stores.timezone), as sale_date in batch.sales_daily.
-- column: store_id: Store id (reference.stores).
-- column: sku: Product SKU (reference.products).
-- column: units_sold: Units on sale lines (demand).
-- column: net_movement: Signed units moved (sales, returns, receipts, adjustments,
--   transfers); stock counts are snapshots and move nothing.
-- column: events: Stock-relevant events seen, counts included.
WITH src AS (
    SELECT * FROM {{ source }}
)

SELECT
    DATE(src.occurred_at, COALESCE(st.timezone, {{ home_timezone }})) AS stock_date,
    src.store_id,
    src.sku,
    SUM(IF(src.event_type = 'sale', src.quantity, 0)) AS units_sold,
    SUM({{ signed_quantity }}) AS net_movement,
    SUM(IF(src.quantity < 0, -1, 1)) AS events
FROM src
LEFT JOIN reference.stores AS st
    ON src.store_id = st.store_id
GROUP BY stock_date, src.store_id, src.sku
