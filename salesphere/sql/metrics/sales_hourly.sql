-- view: batch.sales_hourly
-- description: Sales per UTC hour and store over the events a batch run absorbed; the batch
--   half of serving.sales_intraday. Additive columns only.
-- grain: sale_hour, store_id
-- column: sale_hour: Start of the UTC hour the sale or return happened.
-- column: store_id: Store or channel id (reference.stores).
-- column: units_sold: Units on sale lines.
-- column: net_sales: Sale value minus discounts minus refunds (BRL).
-- column: sale_lines: Sale lines (events).
SELECT
    TIMESTAMP_TRUNC(occurred_at, HOUR) AS sale_hour,
    store_id,
    SUM(IF(event_type = 'sale', quantity, 0)) AS units_sold,
    SUM(
        CASE event_type
            WHEN 'sale' THEN unit_price * quantity - discount
            WHEN 'return' THEN discount - unit_price * quantity
            ELSE 0
        END
    ) AS net_sales,
    COUNTIF(event_type = 'sale') AS sale_lines
FROM {{ source }}
WHERE event_type IN ('sale', 'return')
GROUP BY sale_hour, store_id
