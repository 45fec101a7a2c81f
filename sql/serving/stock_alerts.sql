-- view: serving.stock_alerts
-- description: Store and SKU positions that need attention: negative on hand (the count is
--   wrong or movements are missing: count the shelf), out of stock, at or below the reorder
--   point, or fewer days of cover than the supplier needs to deliver. Demand is the
--   forecast where one exists (batch.demand_forecast: the average forecast day over the
--   supplier's lead time from today on the store's clock, so a peak coming within the lead
--   time raises the alert before it empties the shelf); else the average units sold per day
--   over the days the position was observed and in stock, within the 28 days up to the
--   newest sale date in serving.sales_daily (a fixed anchor, so the view is reproducible).
--   A position is observed from the day of its first stock event; a day is out of stock
--   (censored, excluded) when it closed with nothing on hand and sold nothing. Both
--   demands are serving.replenishment's, so alerts and purchase suggestions agree.
-- grain: store_id, sku
-- column: store_id: Store id.
-- column: sku: Product SKU.
-- column: product_name: Product name (reference.products).
-- column: on_hand: Units on hand (serving.inventory_on_hand); negative means the stock
--   record is wrong.
-- column: reorder_point: Units below which to reorder (reference.products).
-- column: avg_daily_units: Units expected per day: the forecast's average over the lead time
--   (over lead time plus review period when the lead time is 0 days), or units sold in the
--   window / demand_days (0 when no demand day).
-- column: demand_days: Days in the window the position was observed and in stock (0..28).
-- column: demand_source: forecast or observed (the in-stock days' average).
-- column: days_of_cover: on_hand / avg_daily_units; never negative: NULL when on hand is
--   negative (unknown until counted) or when nothing is expected to sell.
-- column: supplier_lead_time_days: Days the supplier needs to deliver.
-- column: alert: count_needed (on hand below zero), out_of_stock (zero),
--   below_reorder_point or cover_below_lead_time.
WITH cover AS (
    SELECT
        r.store_id,
        r.sku,
        r.product_name,
        r.on_hand,
        r.catalogue_reorder_point AS reorder_point,
        IF(
            r.demand_source = 'forecast' AND r.lead_time_days > 0,
            r.demand_lead_time / r.lead_time_days,
            r.daily_demand
        ) AS avg_daily_units,
        r.demand_days,
        IF(r.demand_source = 'forecast', 'forecast', 'observed') AS demand_source,
        r.lead_time_days AS supplier_lead_time_days
    FROM serving.replenishment AS r
)

SELECT
    c.store_id,
    c.sku,
    c.product_name,
    c.on_hand,
    c.reorder_point,
    c.avg_daily_units,
    c.demand_days,
    c.demand_source,
    IF(c.on_hand < 0, NULL, SAFE_DIVIDE(c.on_hand, NULLIF(c.avg_daily_units, 0)))
        AS days_of_cover,
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
    OR (
        c.on_hand >= 0
        AND SAFE_DIVIDE(c.on_hand, NULLIF(c.avg_daily_units, 0)) < c.supplier_lead_time_days
    )
