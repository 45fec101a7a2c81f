-- view: serving.replenishment
-- description: What to order, per store and SKU, at today's review: stock on hand now
--   (serving.inventory_on_hand), the demand expected over the supplier's lead time L plus
--   the review period R (the days until the next chance to order) starting today on the
--   store's clock, a safety stock for the service level, and the order that brings stock
--   up to cover L + R, in whole cases and at least the supplier's minimum. Demand is the
--   newest forecast (batch.demand_forecast) where one covers the window, else the observed
--   average: units sold per day over the days the position was observed and in stock
--   within the 28 days up to the newest sale date (days it closed empty without a sale are
--   censored, not zero demand; demand_source says which). The forecast's daily error is read from its 95% interval (80% when that is
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
-- column: on_order: Units ordered and not yet received: the open_units of the position's
--   purchase order lines (serving.open_purchase_orders), late ones included.
-- column: lead_time_days: L, days the supplier needs to deliver (reference.products).
-- column: review_period_days: R, days until this SKU is reviewed again (reference.products,
--   7 when blank).
-- column: demand_source: forecast (batch.demand_forecast) or trailing_average (no forecast
--   for the window: the observed average over the in-stock days of the last 28).
-- column: forecast_days: Days of the L + R window the forecast covers (0 on the trailing
--   average).
-- column: demand_days: Days of the last 28 (up to the newest sale date) the position was
--   observed and in stock: what the trailing average divides by (0..28).
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

on_order AS (
    -- Purchase orders in transit, so an order placed today is not suggested again.
    SELECT
        o.store_id,
        o.sku,
        SUM(o.open_units) AS units
    FROM serving.open_purchase_orders AS o
    WHERE o.open_units > 0
    GROUP BY o.store_id, o.sku
),

positions AS (
    SELECT
        i.store_id,
        i.sku,
        p.name AS product_name,
        p.supplier,
        i.on_hand,
        GREATEST(i.on_hand, 0) AS available,
        COALESCE(oo.units, 0) AS on_order,
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
    LEFT JOIN on_order AS oo ON i.store_id = oo.store_id AND i.sku = oo.sku
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

-- Observed demand, the fallback: units sold per day over the days the position was
-- observed and in stock, within the 28 days up to the newest sale date (a fixed anchor).
-- A position is observed from the day of its first stock event; a day closed with nothing
-- on hand and no sale was out of stock (censored demand, excluded). Closing stock of a day
-- = on hand now minus the net movement of the later days (serving.stock_daily).
-- serving.stock_alerts reads its demand from here, so the rule lives in one place.
observed_anchor AS (
    SELECT MAX(sd.sale_date) AS last_day FROM serving.sales_daily AS sd
),

observed_history AS (
    SELECT
        st.store_id,
        st.sku,
        MIN(st.stock_date) AS first_day
    FROM serving.stock_daily AS st
    GROUP BY st.store_id, st.sku
),

observed_window AS (
    SELECT
        ps.store_id,
        ps.sku,
        ps.on_hand,
        d AS day
    FROM positions AS ps
    INNER JOIN observed_history AS oh ON ps.store_id = oh.store_id AND ps.sku = oh.sku
    CROSS JOIN observed_anchor AS oa
    CROSS JOIN
        UNNEST(
            GENERATE_DATE_ARRAY(
                GREATEST(oh.first_day, DATE_SUB(oa.last_day, INTERVAL 27 DAY)),
                oa.last_day
            )
        ) AS d
),

observed_recent AS (
    SELECT
        st.store_id,
        st.sku,
        st.stock_date,
        st.units_sold,
        st.net_movement
    FROM serving.stock_daily AS st
    CROSS JOIN observed_anchor AS oa
    WHERE st.stock_date > DATE_SUB(oa.last_day, INTERVAL 28 DAY)
),

observed_days AS (
    SELECT
        w.store_id,
        w.sku,
        w.day,
        SUM(IF(r.stock_date = w.day, r.units_sold, 0)) AS units_sold,
        w.on_hand - SUM(IF(r.stock_date > w.day, r.net_movement, 0)) AS closing
    FROM observed_window AS w
    LEFT JOIN observed_recent AS r ON w.store_id = r.store_id AND w.sku = r.sku
    GROUP BY w.store_id, w.sku, w.day, w.on_hand
),

observed AS (
    -- Censored days sold nothing, so summing every day sums the in-stock days.
    SELECT
        od.store_id,
        od.sku,
        SUM(od.units_sold) AS units_sold,
        SUM(od.units_sold * od.units_sold) AS units_squared,
        COUNTIF(od.closing > 0 OR od.units_sold > 0) AS demand_days
    FROM observed_days AS od
    GROUP BY od.store_id, od.sku
),

trailing AS (
    SELECT
        ob.store_id,
        ob.sku,
        ob.demand_days,
        COALESCE(SAFE_DIVIDE(ob.units_sold, ob.demand_days), 0) AS daily_units,
        -- Population variance over the in-stock days.
        GREATEST(
            COALESCE(
                SAFE_DIVIDE(ob.units_squared, ob.demand_days)
                - POW(SAFE_DIVIDE(ob.units_sold, ob.demand_days), 2),
                0
            ),
            0
        ) AS daily_variance
    FROM observed AS ob
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
        COALESCE(tr.daily_variance, 0) AS trailing_daily_variance,
        COALESCE(tr.demand_days, 0) AS demand_days
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
    n.demand_days,
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
