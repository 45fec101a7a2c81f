-- view: serving.stock_alerts
-- description: Store and SKU positions that need purchasing's attention: on hand at or
--   below the reorder point, or fewer days of cover than the supplier needs to deliver.
--   Demand is the average units sold per day over the 28 days up to the newest sale date in
--   serving.sales_daily (a fixed anchor, so the view is reproducible).
-- grain: store_id, sku
-- column: store_id: Store id.
-- column: sku: Product SKU.
-- column: product_name: Product name (reference.products).
-- column: on_hand: Units on hand (serving.inventory_on_hand).
-- column: reorder_point: Units below which to reorder (reference.products).
-- column: avg_daily_units: Average units sold per day over the last 28 days.
-- column: days_of_cover: on_hand / avg_daily_units (NULL when nothing sold).
-- column: supplier_lead_time_days: Days the supplier needs to deliver.
-- column: alert: out_of_stock, below_reorder_point or cover_below_lead_time.
WITH anchor AS (
    SELECT MAX(sale_date) AS last_day FROM serving.sales_daily
),

demand AS (
    SELECT
        d.store_id,
        d.sku,
        SUM(d.units_sold) / 28 AS avg_daily_units
    FROM serving.sales_daily AS d
    CROSS JOIN anchor
    WHERE d.sale_date > DATE_SUB(anchor.last_day, INTERVAL 28 DAY)
    GROUP BY d.store_id, d.sku
),

cover AS (
    SELECT
        i.store_id,
        i.sku,
        p.name AS product_name,
        i.on_hand,
        p.reorder_point,
        COALESCE(dm.avg_daily_units, 0) AS avg_daily_units,
        SAFE_DIVIDE(i.on_hand, dm.avg_daily_units) AS days_of_cover,
        p.supplier_lead_time_days
    FROM serving.inventory_on_hand AS i
    INNER JOIN reference.products AS p ON i.sku = p.sku
    LEFT JOIN demand AS dm ON i.store_id = dm.store_id AND i.sku = dm.sku
)

SELECT
    store_id,
    sku,
    product_name,
    on_hand,
    reorder_point,
    avg_daily_units,
    days_of_cover,
    supplier_lead_time_days,
    CASE
        WHEN on_hand <= 0 THEN 'out_of_stock'
        WHEN on_hand <= reorder_point THEN 'below_reorder_point'
        ELSE 'cover_below_lead_time'
    END AS alert
FROM cover
WHERE
    on_hand <= reorder_point
    OR days_of_cover < supplier_lead_time_days
