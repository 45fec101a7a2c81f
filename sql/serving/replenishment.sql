-- view: serving.replenishment
-- description: What to order, per store and SKU, at today's review: stock on hand now
--   (serving.inventory_on_hand), the demand expected over the supplier's lead time L plus
--   the review period R (the days until the next chance to order) starting today on the
--   store's clock, a safety stock for the service level, and the order that brings stock
--   up to cover L + R, in whole cases and at least the supplier's minimum. Demand is the
--   newest forecast (batch.demand_forecast) where one covers the window, else the observed
--   average: units sold per day over the days the position was observed and in stock
--   within the 28 days up to the newest sale date (days it closed empty without a sale are
--   censored, not zero demand; demand_source says which). Sigma over L + R is measured: the
--   spread of the units sold over every window of L + R days in the last 91 days
--   (salesphere/replenishment.py states the policy; the replay `salesphere replenishment
--   simulate` runs the same rule day by day against real sales). Days of the window past
--   the forecast horizon take the window's average forecast day. The service level is
--   per SKU (reference.products.service_level, 0.95 when blank), one of the levels of the
--   service_levels CTE at the top of this file.
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
--   for the window: the observed average over the in-stock days of the last 28).
-- column: forecast_days: Days of the L + R window the forecast covers (0 on the trailing
--   average).
-- column: demand_days: Days of the last 28 (up to the newest sale date) the position was
--   observed and in stock: what the trailing average divides by (0..28).
-- column: daily_demand: Average units expected per day over the window.
-- column: demand_lead_time: Units expected over the lead time (today and the next L - 1
--   days).
-- column: demand_lead_review: Units expected over lead time plus review period.
-- column: sigma_lead_review: Standard deviation of the units sold over lead time plus review
--   period, measured over every such window of the last 91 days (the daily spread times
--   the square root of L + R when no full window exists yet).
-- column: service_level: Chance of not running out before the next delivery that the
--   safety stock buys (reference.products.service_level, 0.95 when blank).
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
WITH service_levels AS (
    -- Service level -> z (serving.service_levels, rendered from salesphere.replenishment).
    SELECT l.service_level, l.z FROM serving.service_levels AS l
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
        COALESCE(p.service_level, 0.95) AS service_level,
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

-- Sigma over lead time + review, measured: the spread of the units sold over every
-- window of L + R consecutive days in the 91 days up to the newest sale date (same anchor;
-- salesphere.replenishment.cover_sigma is the same rule in Python, SIGMA_DAYS = 91). No
-- full window yet (a new position, or L + R longer than its history): NULL, and the
-- forecast's daily spread stands in (expected CTE).
cover_days_sold AS (
    SELECT
        ps.store_id,
        ps.sku,
        ps.lead_time_days + ps.review_period_days AS cover_days,
        d AS day,
        COALESCE(sd.units_sold, 0) AS units_sold
    FROM positions AS ps
    -- Only the days the position existed (from its first stock event): a window before
    -- it was listed is no evidence of its spread.
    INNER JOIN observed_history AS oh ON ps.store_id = oh.store_id AND ps.sku = oh.sku
    CROSS JOIN observed_anchor AS oa
    CROSS JOIN
        UNNEST(
            GENERATE_DATE_ARRAY(
                GREATEST(oh.first_day, DATE_SUB(oa.last_day, INTERVAL 90 DAY)), oa.last_day
            )
        ) AS d
    LEFT JOIN serving.sales_daily AS sd
        ON ps.store_id = sd.store_id AND ps.sku = sd.sku AND d = sd.sale_date
),

cover_windows AS (
    -- One row per window start: the units sold over the cover_days days from it.
    SELECT
        a.store_id,
        a.sku,
        a.day,
        SUM(b.units_sold) AS units
    FROM cover_days_sold AS a
    INNER JOIN cover_days_sold AS b
        ON
            a.store_id = b.store_id
            AND a.sku = b.sku
            AND a.day <= b.day
            AND DATE_ADD(a.day, INTERVAL a.cover_days DAY) > b.day
    CROSS JOIN observed_anchor AS oa
    WHERE DATE_ADD(a.day, INTERVAL a.cover_days - 1 DAY) <= oa.last_day
    GROUP BY a.store_id, a.sku, a.day
),

cover_spread AS (
    SELECT
        cw.store_id,
        cw.sku,
        -- Population standard deviation of the window sums.
        SQRT(GREATEST(AVG(cw.units * cw.units) - POW(AVG(cw.units), 2), 0)) AS sigma_cover
    FROM cover_windows AS cw
    GROUP BY cw.store_id, cw.sku
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
        COALESCE(tr.demand_days, 0) AS demand_days,
        cs.sigma_cover
    FROM positions AS ps
    LEFT JOIN forecast AS fc ON ps.store_id = fc.store_id AND ps.sku = fc.sku
    LEFT JOIN trailing AS tr ON ps.store_id = tr.store_id AND ps.sku = tr.sku
    LEFT JOIN cover_spread AS cs ON ps.store_id = cs.store_id AND ps.sku = cs.sku
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
        -- Measured over real windows (cover_spread); a position with no full window yet
        -- falls back to the daily spread of the forecast (or the trailing days), days
        -- taken as independent.
        COALESCE(
            dm.sigma_cover,
            SQRT(
                IF(
                    dm.has_forecast,
                    dm.window_variance * dm.cover_days / dm.forecast_days,
                    dm.trailing_daily_variance * dm.cover_days
                )
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
        sl.z * ex.sigma_lead_review AS safety_stock,
        ex.demand_lead_time + sl.z * ex.sigma_lead_review AS computed_reorder_point,
        ex.demand_lead_review + sl.z * ex.sigma_lead_review AS order_up_to
    FROM expected AS ex
    INNER JOIN service_levels AS sl ON ex.service_level = sl.service_level
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
