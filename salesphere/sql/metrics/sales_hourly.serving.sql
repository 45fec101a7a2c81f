-- view: serving.sales_intraday
-- description: Sales per UTC hour and store: batch.sales_hourly plus the same aggregation
--   over speed events received after the cutoff, so today's hours move within seconds.
-- grain: sale_hour, store_id
-- column: sale_hour: Start of the UTC hour the sale or return happened.
-- column: store_id: Store or channel id (reference.stores).
-- column: units_sold: Units on sale lines.
-- column: net_sales: Sale value minus discounts minus refunds (BRL).
-- column: sale_lines: Sale lines (events).
SELECT
    sale_hour,
    store_id,
    SUM(units_sold) AS units_sold,
    SUM(net_sales) AS net_sales,
    SUM(sale_lines) AS sale_lines
FROM (
    SELECT * FROM batch.sales_hourly
    UNION ALL
    SELECT * FROM (
        {{ speed_part }}
    ) AS speed
) AS parts
GROUP BY sale_hour, store_id
