-- view: serving.sales_intraday
-- description: Sales per hour and store on the store's clock: batch.sales_hourly plus the
--   same aggregation over speed events received after the cutoff, so today's hours move
--   within seconds. sale_date and sale_hour_local are the local business day and hour
--   (reference.stores.timezone; WEB on São Paulo time); sale_hour is that hour as a UTC instant.
-- grain: sale_hour, store_id
-- column: sale_hour: Start of the hour the sale or return happened, as a UTC timestamp.
-- column: sale_date: Local business date of that hour (the store's clock).
-- column: sale_hour_local: Hour of the day on the store's clock, 0-23.
-- column: store_id: Store or channel id (reference.stores).
-- column: units_sold: Units on sale lines.
-- column: net_sales: Sale value minus discounts minus refunds (BRL).
-- column: sale_lines: Sale lines (events).
SELECT
    parts.sale_hour,
    parts.sale_date,
    parts.sale_hour_local,
    parts.store_id,
    SUM(parts.units_sold) AS units_sold,
    SUM(parts.net_sales) AS net_sales,
    SUM(parts.sale_lines) AS sale_lines
FROM (
    SELECT * FROM batch.sales_hourly
    UNION ALL
    SELECT * FROM (
        {{ speed_part }}
    ) AS speed
) AS parts
GROUP BY parts.sale_hour, parts.sale_date, parts.sale_hour_local, parts.store_id
