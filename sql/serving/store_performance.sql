-- view: serving.store_performance
-- description: Per store over all history: revenue, margin (unit cost from
--   reference.products), orders and sell-through.
-- grain: store_id
-- column: store_id: Store or channel id.
-- column: store_name: Store name (reference.stores).
-- column: channel: store or online.
-- column: units_sold: Units sold.
-- column: net_sales: Revenue after discounts and refunds (BRL).
-- column: cost_of_goods: Net units sold times unit cost (BRL).
-- column: gross_margin: net_sales - cost_of_goods (BRL).
-- column: orders: Sum over SKUs of distinct orders (an order with two SKUs counts twice).
-- column: on_hand: Units on hand across the store's SKUs.
-- column: sell_through: units_sold / (units_sold + on_hand).
WITH sales AS (
    SELECT
        d.store_id,
        SUM(d.units_sold) AS units_sold,
        SUM(d.net_sales) AS net_sales,
        SUM((d.units_sold - d.units_returned) * p.unit_cost) AS cost_of_goods,
        SUM(d.orders) AS orders
    FROM serving.sales_daily AS d
    LEFT JOIN reference.products AS p ON d.sku = p.sku
    GROUP BY d.store_id
),

stock AS (
    SELECT
        store_id,
        SUM(on_hand) AS on_hand
    FROM serving.inventory_on_hand
    GROUP BY store_id
)

SELECT
    st.store_id,
    st.name AS store_name,
    st.channel,
    COALESCE(s.units_sold, 0) AS units_sold,
    COALESCE(s.net_sales, 0) AS net_sales,
    COALESCE(s.cost_of_goods, 0) AS cost_of_goods,
    COALESCE(s.net_sales, 0) - COALESCE(s.cost_of_goods, 0) AS gross_margin,
    COALESCE(s.orders, 0) AS orders,
    COALESCE(k.on_hand, 0) AS on_hand,
    SAFE_DIVIDE(s.units_sold, s.units_sold + GREATEST(COALESCE(k.on_hand, 0), 0))
        AS sell_through
FROM reference.stores AS st
LEFT JOIN sales AS s ON st.store_id = s.store_id
LEFT JOIN stock AS k ON st.store_id = k.store_id
