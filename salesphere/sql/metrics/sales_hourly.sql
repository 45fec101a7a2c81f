-- view: batch.sales_hourly
-- description: Sales per hour and store over the events a batch run absorbed; the batch
--   half of serving.sales_intraday. Hours are on the store's clock (reference.stores.timezone;
--   WEB on São Paulo time): sale_date and sale_hour_local say which business day and hour,
--   sale_hour is the same hour as an instant (UTC). Additive columns only.
-- grain: sale_hour, store_id
-- column: sale_hour: Start of the hour the sale or return happened, as a UTC timestamp
--   (truncated on the store's clock, so it is the local hour's start).
-- column: sale_date: Local business date of that hour (the store's clock).
-- column: sale_hour_local: Hour of the day on the store's clock, 0-23.
-- column: store_id: Store or channel id (reference.stores).
-- column: units_sold: Units on sale lines.
-- column: net_sales: Sale value minus discounts minus refunds (BRL).
-- column: sale_lines: Sale lines (events).
WITH src AS (
    SELECT * FROM {{ source }}
),

local_src AS (
    SELECT
        src.*,
        COALESCE(st.timezone, {{ home_timezone }}) AS business_timezone
    FROM src
    LEFT JOIN reference.stores AS st
        ON src.store_id = st.store_id
    WHERE src.event_type IN ('sale', 'return')
)

SELECT
    TIMESTAMP_TRUNC(ls.occurred_at, HOUR, ls.business_timezone) AS sale_hour,
    DATE(ls.occurred_at, ls.business_timezone) AS sale_date,
    EXTRACT(HOUR FROM ls.occurred_at AT TIME ZONE ls.business_timezone) AS sale_hour_local,
    ls.store_id,
    SUM(IF(ls.event_type = 'sale', ls.quantity, 0)) AS units_sold,
    SUM(
        CASE ls.event_type
            WHEN 'sale' THEN ls.unit_price * ls.quantity - ls.discount
            WHEN 'return' THEN ls.discount - ls.unit_price * ls.quantity
            ELSE 0
        END
    ) AS net_sales,
    SUM(IF(ls.event_type = 'sale', SIGN(ls.quantity), 0)) AS sale_lines
FROM local_src AS ls
GROUP BY sale_hour, sale_date, sale_hour_local, ls.store_id
