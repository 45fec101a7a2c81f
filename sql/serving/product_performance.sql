-- view: serving.product_performance
-- description: Per SKU over all history: revenue, cost and margin (unit cost from
--   reference.products) and sell-through (units sold against units sold plus on hand).
-- grain: sku
-- column: sku: Product SKU.
-- column: product_name: Product name.
-- column: category: Product category.
-- column: units_sold: Units sold.
-- column: units_returned: Units returned.
-- column: net_sales: Revenue after discounts and refunds (BRL).
-- column: cost_of_goods: (units_sold - units_returned) * unit_cost (BRL).
-- column: gross_margin: net_sales - cost_of_goods (BRL).
-- column: margin_pct: gross_margin / net_sales (NULL without sales).
-- column: on_hand: Units on hand across all stores.
-- column: sell_through: units_sold / (units_sold + on_hand) (NULL when both are 0).
WITH sales AS (
    SELECT
        sku,
        SUM(units_sold) AS units_sold,
        SUM(units_returned) AS units_returned,
        SUM(net_sales) AS net_sales
    FROM serving.sales_daily
    GROUP BY sku
),

stock AS (
    SELECT
        sku,
        SUM(on_hand) AS on_hand
    FROM serving.inventory_on_hand
    GROUP BY sku
)

SELECT
    p.sku,
    p.name AS product_name,
    p.category,
    COALESCE(s.units_sold, 0) AS units_sold,
    COALESCE(s.units_returned, 0) AS units_returned,
    COALESCE(s.net_sales, 0) AS net_sales,
    (COALESCE(s.units_sold, 0) - COALESCE(s.units_returned, 0)) * p.unit_cost
        AS cost_of_goods,
    COALESCE(s.net_sales, 0)
    - (COALESCE(s.units_sold, 0) - COALESCE(s.units_returned, 0)) * p.unit_cost
        AS gross_margin,
    SAFE_DIVIDE(
        COALESCE(s.net_sales, 0)
        - (COALESCE(s.units_sold, 0) - COALESCE(s.units_returned, 0)) * p.unit_cost,
        s.net_sales
    ) AS margin_pct,
    COALESCE(st.on_hand, 0) AS on_hand,
    SAFE_DIVIDE(s.units_sold, s.units_sold + GREATEST(COALESCE(st.on_hand, 0), 0))
        AS sell_through
FROM reference.products AS p
LEFT JOIN sales AS s ON p.sku = s.sku
LEFT JOIN stock AS st ON p.sku = st.sku
