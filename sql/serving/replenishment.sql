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
-- column: on_order: Units ordered and not yet received: the open_units of the position's
--   purchase order lines (serving.open_purchase_orders), late ones included, plus the
--   units in transit from another store (in_transit).
-- column: in_transit: Units sent to this store by another and not yet received: a
--   transfer_out seen at the sender (counterpart_store_id = this store) without the
--   transfer_in of the same document (source_ref) and SKU at this store: the receiver's
--   confirmation of a transfer NF-e, or the receipt the batch layer assumes once the
--   pair's lead time + 1 day has passed. A cancelled transfer is in transit nowhere.
--   Counted in on_order.
-- column: transfer_in: Units suggested to move here from other stores today
--   (serving.transfer_suggestions); the order covers only what they do not.
-- column: transfer_out: Units suggested to move from here to other stores today.
-- column: transfers_in: The suggested transfers to this store, one per donor: from_store,
--   units, same_state, lead_time_days (serving.transfer_suggestions unnests them).
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
-- column: suggested_order_quantity: max(0, order_up_to - max(on_hand, 0) - on_order
--   - transfer_in), rounded up to whole cases, and at least min_order_quantity (itself rounded up to whole
--   cases) when anything is ordered.
-- column: urgent: Something to order after transfers and on hand plus on order at or below
--   computed_reorder_point: order today, or stock is expected to run out before delivery.
-- example: SELECT sku, product_name, suggested_order_quantity, stockout_date
--   FROM serving.replenishment WHERE store_id = 'SP01' AND suggested_order_quantity > 0
--   ORDER BY urgent DESC, stockout_date
WITH service_levels AS (
    -- Service level -> z (serving.service_levels, rendered from salesphere.replenishment).
    SELECT l.service_level, l.z FROM serving.service_levels AS l
),

-- A transfer cancelled before its receipt (its transfer_out named by a void) is in
-- transit nowhere.
voided_transfers AS (
    SELECT m.source_ref AS event_id
    FROM master.events AS m
    WHERE m.event_type = 'void' AND m.source_ref IS NOT NULL
    UNION DISTINCT
    SELECT s.source_ref AS event_id
    FROM serving.events_since_cutoff AS s
    WHERE s.event_type = 'void' AND s.source_ref IS NOT NULL
),

-- Units on their way from another store: each transfer document's transfer_out at the
-- sender less the transfer_in of the same document and SKU at the receiver (confirmed by
-- the receiver, or assumed by the batch layer once the pair's lead time + 1 day has
-- passed). A transfer_out without a document (source_ref) cannot be matched and is not
-- counted.
transfer_events AS (
    SELECT
        e.event_id,
        ANY_VALUE(e.event_type) AS event_type,
        ANY_VALUE(e.store_id) AS store_id,
        ANY_VALUE(e.counterpart_store_id) AS counterpart_store_id,
        ANY_VALUE(e.sku) AS sku,
        ANY_VALUE(e.source_ref) AS source_ref,
        ANY_VALUE(e.quantity) AS quantity
    FROM (
        SELECT
            m.event_id, m.event_type, m.store_id, m.counterpart_store_id, m.sku,
            m.source_ref, m.quantity
        FROM master.events AS m
        WHERE m.event_type IN ('transfer_out', 'transfer_in') AND m.source_ref IS NOT NULL
        UNION ALL
        SELECT
            s.event_id, s.event_type, s.store_id, s.counterpart_store_id, s.sku,
            s.source_ref, s.quantity
        FROM serving.events_since_cutoff AS s
        WHERE s.event_type IN ('transfer_out', 'transfer_in') AND s.source_ref IS NOT NULL
    ) AS e
    WHERE e.event_id NOT IN (SELECT vt.event_id FROM voided_transfers AS vt)
    GROUP BY e.event_id
),

transfer_legs AS (
    SELECT
        te.event_type,
        te.store_id,
        te.counterpart_store_id,
        te.sku,
        te.source_ref,
        SUM(te.quantity) AS quantity
    FROM transfer_events AS te
    GROUP BY te.event_type, te.store_id, te.counterpart_store_id, te.sku, te.source_ref
),

in_transit AS (
    SELECT
        o.counterpart_store_id AS store_id,
        o.sku,
        SUM(GREATEST(o.quantity - COALESCE(i.quantity, 0), 0)) AS units
    FROM transfer_legs AS o
    LEFT JOIN transfer_legs AS i
        ON
            i.event_type = 'transfer_in'
            AND o.counterpart_store_id = i.store_id
            AND o.store_id = i.counterpart_store_id
            AND o.sku = i.sku
            AND o.source_ref = i.source_ref
    WHERE o.event_type = 'transfer_out'
    GROUP BY o.counterpart_store_id, o.sku
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
        COALESCE(p.service_level, 0.95) AS service_level,
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
        ROUND(lv.order_up_to - lv.available - lv.on_order - COALESCE(it.units, 0), 6)
            AS shortfall,
        COALESCE(it.units, 0) AS in_transit
    FROM levels AS lv
    LEFT JOIN in_transit AS it ON lv.store_id = it.store_id AND lv.sku = it.sku
),

-- Transfers before purchases (serving.transfer_suggestions shows the pairs). Physical
-- stores only (the web shop ships from its own stock). A donor gives what it holds on the
-- shelf above its order-up-to level, never more: giving down to the reorder point would
-- only move the purchase to the donor at its next review. A receiver is at or below its
-- reorder point (on hand + on order + in transit) and receives up to its order-up-to
-- level. Same state first, then across states; within a tier donors and receivers are
-- matched in a fixed order (largest surplus / need first, then store id) by overlapping
-- their running sums, so the same data always gives the same suggestion.
transfer_positions AS (
    SELECT
        n.store_id,
        n.sku,
        st.state,
        GREATEST(CAST(FLOOR(ROUND(n.available - n.order_up_to, 6)) AS INT64), 0) AS surplus,
        IF(
            n.available + n.on_order + n.in_transit <= n.computed_reorder_point,
            GREATEST(CAST(CEIL(n.shortfall) AS INT64), 0),
            0
        ) AS need
    FROM needs AS n
    INNER JOIN reference.stores AS st ON n.store_id = st.store_id
    WHERE st.channel = 'store'
),

state_donors AS (
    SELECT
        tp.*,
        SUM(tp.surplus) OVER (
            PARTITION BY tp.sku, tp.state ORDER BY tp.surplus DESC, tp.store_id ASC
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS upto
    FROM transfer_positions AS tp
    WHERE tp.surplus > 0
),

state_receivers AS (
    SELECT
        tp.*,
        SUM(tp.need) OVER (
            PARTITION BY tp.sku, tp.state ORDER BY tp.need DESC, tp.store_id ASC
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS upto
    FROM transfer_positions AS tp
    WHERE tp.need > 0
),

state_moves AS (
    -- Donor d covers units (d.upto - d.surplus, d.upto] of the state's surplus, receiver r
    -- units (r.upto - r.need, r.upto] of its need: d sends r their overlap.
    SELECT
        d.sku,
        d.store_id AS from_store,
        r.store_id AS to_store,
        LEAST(d.upto, r.upto) - GREATEST(d.upto - d.surplus, r.upto - r.need) AS units
    FROM state_donors AS d
    INNER JOIN state_receivers AS r
        ON
            d.sku = r.sku
            AND d.state = r.state
            AND d.upto - d.surplus < r.upto
            AND r.upto - r.need < d.upto
),

state_left AS (
    -- What each store still gives or needs after its own state: in a state either the
    -- surplus or the need runs out, so the second round pairs different states.
    SELECT
        tp.store_id,
        tp.sku,
        tp.state,
        tp.surplus - COALESCE(SUM(IF(sm.from_store = tp.store_id, sm.units, 0)), 0) AS surplus,
        tp.need - COALESCE(SUM(IF(sm.to_store = tp.store_id, sm.units, 0)), 0) AS need
    FROM transfer_positions AS tp
    LEFT JOIN state_moves AS sm
        ON tp.sku = sm.sku AND tp.store_id IN (sm.from_store, sm.to_store)
    GROUP BY tp.store_id, tp.sku, tp.state, tp.surplus, tp.need
),

other_donors AS (
    SELECT
        sl.*,
        SUM(sl.surplus) OVER (
            PARTITION BY sl.sku ORDER BY sl.surplus DESC, sl.store_id ASC
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS upto
    FROM state_left AS sl
    WHERE sl.surplus > 0
),

other_receivers AS (
    SELECT
        sl.*,
        SUM(sl.need) OVER (
            PARTITION BY sl.sku ORDER BY sl.need DESC, sl.store_id ASC
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS upto
    FROM state_left AS sl
    WHERE sl.need > 0
),

other_moves AS (
    SELECT
        d.sku,
        d.store_id AS from_store,
        r.store_id AS to_store,
        LEAST(d.upto, r.upto) - GREATEST(d.upto - d.surplus, r.upto - r.need) AS units
    FROM other_donors AS d
    INNER JOIN other_receivers AS r
        ON
            d.sku = r.sku
            AND d.upto - d.surplus < r.upto
            AND r.upto - r.need < d.upto
),

transfer_moves AS (
    SELECT
        mv.sku,
        mv.from_store,
        mv.to_store,
        mv.units,
        fs.state = ts.state AS same_state,
        COALESCE(
            tl.days,
            -- Defaults: salesphere.reference.DEFAULT_TRANSFER_DAYS_SAME_STATE / _OTHER_STATE.
            IF(fs.state = ts.state, 2, 4)
        ) AS lead_time_days
    FROM (
        SELECT sm.* FROM state_moves AS sm
        UNION ALL
        SELECT om.* FROM other_moves AS om
    ) AS mv
    INNER JOIN reference.stores AS fs ON mv.from_store = fs.store_id
    INNER JOIN reference.stores AS ts ON mv.to_store = ts.store_id
    LEFT JOIN reference.transfer_lead_times AS tl
        ON mv.from_store = tl.from_store AND mv.to_store = tl.to_store
),

transfers_to AS (
    SELECT
        tm.to_store AS store_id,
        tm.sku,
        SUM(tm.units) AS units,
        ARRAY_AGG(
            STRUCT(
                tm.from_store AS from_store,
                tm.units AS units,
                tm.same_state AS same_state,
                tm.lead_time_days AS lead_time_days
            )
            ORDER BY tm.from_store
        ) AS moves
    FROM transfer_moves AS tm
    GROUP BY tm.to_store, tm.sku
),

transfers_from AS (
    SELECT
        tm.from_store AS store_id,
        tm.sku,
        SUM(tm.units) AS units
    FROM transfer_moves AS tm
    GROUP BY tm.from_store, tm.sku
),

netted AS (
    SELECT
        n.*,
        COALESCE(tt.units, 0) AS transfer_in,
        COALESCE(tf.units, 0) AS transfer_out,
        COALESCE(tt.moves, []) AS transfers_in,
        -- What the transfers leave to buy.
        ROUND(n.shortfall - COALESCE(tt.units, 0), 6) AS order_shortfall
    FROM needs AS n
    LEFT JOIN transfers_to AS tt ON n.store_id = tt.store_id AND n.sku = tt.sku
    LEFT JOIN transfers_from AS tf ON n.store_id = tf.store_id AND n.sku = tf.sku
)

SELECT
    n.store_id,
    n.sku,
    n.product_name,
    n.supplier,
    n.as_of_date,
    n.on_hand,
    n.on_order + n.in_transit AS on_order,
    n.in_transit,
    n.transfer_in,
    n.transfer_out,
    n.transfers_in,
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
        n.order_shortfall <= 0,
        0,
        GREATEST(
            CAST(CEIL(n.order_shortfall / n.pack_size) AS INT64),
            CAST(CEIL(n.min_order_quantity / n.pack_size) AS INT64)
        )
        * n.pack_size
    ) AS suggested_order_quantity,
    n.order_shortfall > 0
    AND n.available + n.on_order + n.in_transit <= n.computed_reorder_point AS urgent
FROM netted AS n
