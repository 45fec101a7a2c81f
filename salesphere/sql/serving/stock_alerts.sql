-- view: serving.stock_alerts
-- description: Store and SKU positions that need attention: negative on hand (the count is
--   wrong or movements are missing: count the shelf), out of stock, at or below the reorder
--   point, or fewer days of cover than the supplier needs to deliver. Demand is the average
--   units sold per day over the days the position was observed and in stock, within the 28
--   days up to the newest sale date in serving.sales_daily (a fixed anchor, so the view is
--   reproducible). A position is observed from the day of its first stock event; a day is
--   out of stock (censored, excluded) when it closed with nothing on hand and sold nothing.
--   Closing stock per day is today's on hand minus the net movement of the later days
--   (serving.stock_daily).
-- grain: store_id, sku
-- column: store_id: Store id.
-- column: sku: Product SKU.
-- column: product_name: Product name (reference.products).
-- column: on_hand: Units on hand (serving.inventory_on_hand); negative means the stock
--   record is wrong.
-- column: reorder_point: Units below which to reorder (reference.products).
-- column: avg_daily_units: Units sold in the window / demand_days (0 when no demand day).
-- column: demand_days: Days in the window the position was observed and in stock (0..28).
-- column: days_of_cover: on_hand / avg_daily_units; never negative: NULL when on hand is
--   negative (unknown until counted) or when nothing sold.
-- column: supplier_lead_time_days: Days the supplier needs to deliver.
-- column: alert: count_needed (on hand below zero), out_of_stock (zero),
--   below_reorder_point or cover_below_lead_time.
WITH anchor AS (
    SELECT MAX(sd.sale_date) AS last_day FROM serving.sales_daily AS sd
),

history AS (
    SELECT
        st.store_id,
        st.sku,
        MIN(st.stock_date) AS first_day
    FROM serving.stock_daily AS st
    GROUP BY st.store_id, st.sku
),

window_days AS (
    SELECT
        i.store_id,
        i.sku,
        i.on_hand,
        d AS day
    FROM serving.inventory_on_hand AS i
    INNER JOIN history AS h ON i.store_id = h.store_id AND i.sku = h.sku
    CROSS JOIN anchor
    CROSS JOIN
        UNNEST(
            GENERATE_DATE_ARRAY(
                GREATEST(h.first_day, DATE_SUB(anchor.last_day, INTERVAL 27 DAY)),
                anchor.last_day
            )
        ) AS d
),

recent AS (
    SELECT
        st.store_id,
        st.sku,
        st.stock_date,
        st.units_sold,
        st.net_movement
    FROM serving.stock_daily AS st
    CROSS JOIN anchor
    WHERE st.stock_date > DATE_SUB(anchor.last_day, INTERVAL 28 DAY)
),

days AS (
    SELECT
        w.store_id,
        w.sku,
        w.day,
        SUM(IF(r.stock_date = w.day, r.units_sold, 0)) AS units_sold,
        w.on_hand - SUM(IF(r.stock_date > w.day, r.net_movement, 0)) AS closing
    FROM window_days AS w
    LEFT JOIN recent AS r ON w.store_id = r.store_id AND w.sku = r.sku
    GROUP BY w.store_id, w.sku, w.day, w.on_hand
),

demand AS (
    SELECT
        dy.store_id,
        dy.sku,
        SUM(dy.units_sold) AS units_sold,
        COUNTIF(dy.closing > 0 OR dy.units_sold > 0) AS demand_days
    FROM days AS dy
    GROUP BY dy.store_id, dy.sku
),

cover AS (
    SELECT
        i.store_id,
        i.sku,
        p.name AS product_name,
        i.on_hand,
        p.reorder_point,
        COALESCE(SAFE_DIVIDE(dm.units_sold, dm.demand_days), 0) AS avg_daily_units,
        COALESCE(dm.demand_days, 0) AS demand_days,
        IF(
            i.on_hand < 0,
            NULL,
            SAFE_DIVIDE(i.on_hand, SAFE_DIVIDE(dm.units_sold, dm.demand_days))
        ) AS days_of_cover,
        p.supplier_lead_time_days
    FROM serving.inventory_on_hand AS i
    INNER JOIN reference.products AS p ON i.sku = p.sku
    LEFT JOIN demand AS dm ON i.store_id = dm.store_id AND i.sku = dm.sku
)

SELECT
    c.store_id,
    c.sku,
    c.product_name,
    c.on_hand,
    c.reorder_point,
    c.avg_daily_units,
    c.demand_days,
    c.days_of_cover,
    c.supplier_lead_time_days,
    CASE
        WHEN c.on_hand < 0 THEN 'count_needed'
        WHEN c.on_hand = 0 THEN 'out_of_stock'
        WHEN c.on_hand <= c.reorder_point THEN 'below_reorder_point'
        ELSE 'cover_below_lead_time'
    END AS alert
FROM cover AS c
WHERE
    c.on_hand <= c.reorder_point
    OR c.days_of_cover < c.supplier_lead_time_days
