-- view: serving.stock_daily
-- description: Stock movements per local business day, store and SKU: batch.stock_daily
--   plus the same aggregation over speed events received after the cutoff (every movement
--   counted once). serving.stock_alerts reads it to tell days a position was out of stock.
-- grain: stock_date, store_id, sku
-- column: stock_date: Local business date the movement happened (store's timezone).
-- column: store_id: Store id (reference.stores).
-- column: sku: Product SKU (reference.products).
-- column: units_sold: Units on sale lines (demand).
-- column: net_movement: Signed units moved; stock counts move nothing.
-- column: events: Stock-relevant events seen, counts included.
SELECT
    parts.stock_date,
    parts.store_id,
    parts.sku,
    SUM(parts.units_sold) AS units_sold,
    SUM(parts.net_movement) AS net_movement,
    SUM(parts.events) AS events
FROM (
    SELECT * FROM batch.stock_daily
    UNION ALL
    SELECT * FROM (
        {{ speed_part }}
    ) AS speed
) AS parts
GROUP BY parts.stock_date, parts.store_id, parts.sku
