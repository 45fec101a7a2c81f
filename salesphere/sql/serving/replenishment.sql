-- view: serving.replenishment
-- description: What to order, per store and SKU, at today's review: stock on hand now
--   (serving.inventory_on_hand), the demand expected over the supplier's lead time L plus
--   the review period R (the days until the next chance to order) starting today on the
--   store's clock, a safety stock for the service level, and the order that brings stock
--   up to cover L + R, in whole cases and at least the supplier's minimum. Demand is the
--   newest forecast (batch.demand_forecast) where one covers the window, else the average
--   units sold per day over the 28 days up to the newest sale date (demand_source says
--   which). The forecast's daily error is read from its 95% interval (80% when that is
--   missing): sigma = (upper bound - forecast) / z of the interval; days are taken as
--   independent, so the window's sigma is the square root of the summed daily variances.
--   Days of the window past the forecast horizon take the window's average forecast day.
--   The service level is set once, in the policy CTE at the top of this file.
-- grain: store_id, sku
-- column: store_id: Store id (reference.stores).
-- column: sku: Product SKU (reference.products).
-- column: product_name: Product name (reference.products).
-- column: supplier: Supplier the order goes to (reference.products).
-- column: as_of_date: Today on the store's clock (reference.stores.timezone): the first
--   day of the window the order covers.
-- column: on_hand: Units on hand now (serving.inventory_on_hand); below zero the stock
--   record is wrong and the arithmetic takes 0.
-- column: on_order: Units ordered and not yet received. The platform records no purchase
--   orders yet, so 0: subtract open orders by hand.
-- column: lead_time_days: L, days the supplier needs to deliver (reference.products).
-- column: review_period_days: R, days until this SKU is reviewed again (reference.products,
--   7 when blank).
-- column: demand_source: forecast (batch.demand_forecast) or trailing_average (no forecast
--   for the window: the last 28 days' average).
-- column: forecast_days: Days of the L + R window the forecast covers (0 on the trailing
--   average).
-- column: daily_demand: Average units expected per day over the window.
-- column: demand_lead_time: Units expected over the lead time (today and the next L - 1
--   days).
-- column: demand_lead_review: Units expected over lead time plus review period.
-- column: sigma_lead_review: Standard deviation of demand over lead time plus review period.
-- column: service_level: Chance of not running out before the next delivery that the
--   safety stock buys (policy CTE).
-- column: safety_stock: z(service_level) x sigma_lead_review.
-- column: computed_reorder_point: demand_lead_time + safety_stock: at or below this, stock
--   is expected to run out before an order placed today arrives.
-- column: catalogue_reorder_point: The static reorder point typed into the catalogue
--   (reference.products), for comparison.
-- column: order_up_to: demand_lead_review + safety_stock: the stock an order should bring
--   the position up to.
-- column: stockout_date: First day (store's clock) the cumulative expected demand from
--   today exceeds on hand; today when nothing is on hand; NULL when stock lasts beyond the
--   forecast horizon (trailing average: beyond 365 days) or nothing is expected to sell.
-- column: pack_size: Units per case (reference.products, 1 when blank).
-- column: min_order_quantity: Supplier's minimum order in units (reference.products, 0
--   when blank).
-- column: suggested_order_quantity: max(0, order_up_to - max(on_hand, 0) - on_order),
--   rounded up to whole cases, and at least min_order_quantity (itself rounded up to whole
--   cases) when anything is ordered.
-- column: urgent: Something to order and on hand plus on order at or below
--   computed_reorder_point: order today, or stock is expected to run out before delivery.
-- example: SELECT sku, product_name, suggested_order_quantity, stockout_date
--   FROM serving.replenishment WHERE store_id = 'SP01' AND suggested_order_quantity > 0
--   ORDER BY urgent DESC, stockout_date
WITH policy AS (
    -- The one place the service level is set. z is its standard normal quantile
    -- (NormalDist().inv_cdf(service_level)); tests/unit/test_replenishment_sql.py checks the
    -- pair. 95%: out of stock before a delivery in about one review cycle in twenty.
    SELECT
        0.95 AS service_level,
        1.6448536269514722 AS z
),

positions AS (
    SELECT
        i.store_id,
        i.sku,
        p.name AS product_name,
        p.supplier,
        i.on_hand,
        GREATEST(i.on_hand, 0) AS available,
        0 AS on_order,
        p.reorder_point AS catalogue_reorder_point,
        p.supplier_lead_time_days AS lead_time_days,
        COALESCE(p.review_period_days, 7) AS review_period_days,
        COALESCE(p.pack_size, 1) AS pack_size,
        COALESCE(p.min_order_quantity, 0) AS min_order_quantity,
        -- The web shop WEB and a store missing from reference.stores keep São Paulo's day.
        CURRENT_DATE(COALESCE(st.timezone, 'America/Sao_Paulo')) AS as_of_date
    FROM serving.inventory_on_hand AS i
    INNER JOIN reference.products AS p ON i.sku = p.sku
    LEFT JOIN reference.stores AS st ON i.store_id = st.store_id
),

forecast_days AS (
    SELECT
        ps.store_id,
        ps.sku,
        f.forecast_date,
        f.units,
        DATE_DIFF(f.forecast_date, ps.as_of_date, DAY) AS day_index,
        -- Daily sigma from the upper half of the interval: lower bounds are clipped at 0.
        GREATEST(
            COALESCE(
                (f.units_hi_95 - f.units) / 1.959963984540054,
                (f.units_hi_80 - f.units) / 1.2815515655446004,
                0
            ),
            0
        ) AS sigma,
        SUM(f.units) OVER (
            PARTITION BY ps.store_id, ps.sku
            ORDER BY f.forecast_date
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS cumulative_units
    FROM positions AS ps
    INNER JOIN batch.demand_forecast AS f
        ON ps.store_id = f.store_id AND ps.sku = f.sku
    WHERE f.forecast_date >= ps.as_of_date
),

forecast AS (
    SELECT
        ps.store_id,
        ps.sku,
        COUNTIF(fd.day_index < ps.lead_time_days + ps.review_period_days) AS window_days,
        COUNTIF(fd.day_index < ps.lead_time_days) AS lead_days,
        SUM(IF(fd.day_index < ps.lead_time_days + ps.review_period_days, fd.units, 0))
            AS window_units,
        SUM(IF(fd.day_index < ps.lead_time_days, fd.units, 0)) AS lead_units,
        SUM(
            IF(fd.day_index < ps.lead_time_days + ps.review_period_days, fd.sigma * fd.sigma, 0)
        ) AS window_variance,
        MIN(IF(fd.cumulative_units > ps.available, fd.forecast_date, NULL)) AS stockout_date
    FROM positions AS ps
    INNER JOIN forecast_days AS fd
        ON ps.store_id = fd.store_id AND ps.sku = fd.sku
    GROUP BY ps.store_id, ps.sku
),

anchor AS (
    SELECT MAX(sd.sale_date) AS last_day FROM serving.sales_daily AS sd
),

trailing AS (
    SELECT
        d.store_id,
        d.sku,
        SUM(d.units_sold) / 28 AS daily_units,
        -- Population variance over the 28 days, days without a sale counting as 0.
        GREATEST(
            SUM(d.units_sold * d.units_sold) / 28 - POW(SUM(d.units_sold) / 28, 2), 0
        ) AS daily_variance
    FROM serving.sales_daily AS d
    CROSS JOIN anchor
    WHERE d.sale_date > DATE_SUB(anchor.last_day, INTERVAL 28 DAY)
    GROUP BY d.store_id, d.sku
),

demand AS (
    SELECT
        ps.*,
        COALESCE(fc.window_days, 0) > 0 AS has_forecast,
        COALESCE(fc.window_days, 0) AS forecast_days,
        ps.lead_time_days + ps.review_period_days AS cover_days,
        fc.window_units,
        fc.lead_units,
        fc.lead_days,
        fc.window_variance,
        fc.stockout_date AS forecast_stockout_date,
        COALESCE(tr.daily_units, 0) AS trailing_daily_units,
        COALESCE(tr.daily_variance, 0) AS trailing_daily_variance
    FROM positions AS ps
    LEFT JOIN forecast AS fc ON ps.store_id = fc.store_id AND ps.sku = fc.sku
    LEFT JOIN trailing AS tr ON ps.store_id = tr.store_id AND ps.sku = tr.sku
),

expected AS (
    SELECT
        dm.*,
        IF(
            dm.has_forecast,
            dm.window_units / dm.forecast_days,
            dm.trailing_daily_units
        ) AS daily_demand,
        IF(
            dm.has_forecast,
            dm.lead_units
            + (dm.lead_time_days - dm.lead_days) * dm.window_units / dm.forecast_days,
            dm.trailing_daily_units * dm.lead_time_days
        ) AS demand_lead_time,
        IF(
            dm.has_forecast,
            dm.window_units * dm.cover_days / dm.forecast_days,
            dm.trailing_daily_units * dm.cover_days
        ) AS demand_lead_review,
        SQRT(
            IF(
                dm.has_forecast,
                dm.window_variance * dm.cover_days / dm.forecast_days,
                dm.trailing_daily_variance * dm.cover_days
            )
        ) AS sigma_lead_review,
        CASE
            WHEN dm.available <= 0 THEN dm.as_of_date
            WHEN dm.has_forecast THEN dm.forecast_stockout_date
            WHEN
                dm.trailing_daily_units > 0
                AND dm.available / dm.trailing_daily_units < 365
                THEN DATE_ADD(
                    dm.as_of_date,
                    INTERVAL CAST(FLOOR(dm.available / dm.trailing_daily_units) AS INT64) DAY
                )
        END AS stockout_date
    FROM demand AS dm
),

levels AS (
    SELECT
        ex.*,
        policy.service_level,
        policy.z * ex.sigma_lead_review AS safety_stock,
        ex.demand_lead_time + policy.z * ex.sigma_lead_review AS computed_reorder_point,
        ex.demand_lead_review + policy.z * ex.sigma_lead_review AS order_up_to
    FROM expected AS ex
    CROSS JOIN policy
),

needs AS (
    SELECT
        lv.*,
        -- Rounded to a millionth first, so float noise cannot add a whole case.
        ROUND(lv.order_up_to - lv.available - lv.on_order, 6) AS shortfall
    FROM levels AS lv
)

SELECT
    n.store_id,
    n.sku,
    n.product_name,
    n.supplier,
    n.as_of_date,
    n.on_hand,
    n.on_order,
    n.lead_time_days,
    n.review_period_days,
    IF(n.has_forecast, 'forecast', 'trailing_average') AS demand_source,
    n.forecast_days,
    n.daily_demand,
    n.demand_lead_time,
    n.demand_lead_review,
    n.sigma_lead_review,
    n.service_level,
    n.safety_stock,
    n.computed_reorder_point,
    n.catalogue_reorder_point,
    n.order_up_to,
    n.stockout_date,
    n.pack_size,
    n.min_order_quantity,
    IF(
        n.shortfall <= 0,
        0,
        GREATEST(
            CAST(CEIL(n.shortfall / n.pack_size) AS INT64),
            CAST(CEIL(n.min_order_quantity / n.pack_size) AS INT64)
        )
        * n.pack_size
    ) AS suggested_order_quantity,
    n.shortfall > 0 AND n.available + n.on_order <= n.computed_reorder_point AS urgent
FROM needs AS n
