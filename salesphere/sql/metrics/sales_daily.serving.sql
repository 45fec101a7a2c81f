-- view: serving.sales_daily
-- description: Sales by UTC day, store and SKU: batch.sales_daily (events received before
--   the cutoff) plus the same aggregation over speed events received after it. Complete and
--   corrected up to the cutoff, seconds-fresh after it; every sale line and every order
--   counted once.
-- grain: sale_date, store_id, sku
-- column: sale_date: UTC date the sale or return happened.
-- column: store_id: Store or channel id (reference.stores).
-- column: sku: Product SKU (reference.products).
-- column: units_sold: Units on sale lines.
-- column: units_returned: Units on return lines.
-- column: gross_sales: Sum of unit_price * quantity on sale lines (BRL).
-- column: discounts: Sum of discounts on sale lines (BRL).
-- column: returns_amount: Refunded value of return lines (BRL).
-- column: net_sales: gross_sales - discounts - returns_amount (BRL).
-- column: orders: Distinct orders with a sale line for this SKU and day, counted once even
--   when the order's lines arrived on both sides of the cutoff (from both halves' order ids).
-- column: sale_lines: Sale lines (events).
SELECT
    sale_date,
    store_id,
    sku,
    SUM(units_sold) AS units_sold,
    SUM(units_returned) AS units_returned,
    SUM(gross_sales) AS gross_sales,
    SUM(discounts) AS discounts,
    SUM(returns_amount) AS returns_amount,
    SUM(net_sales) AS net_sales,
    (SELECT COUNT(DISTINCT o) FROM UNNEST(ARRAY_CONCAT_AGG(parts.order_ids)) AS o) AS orders,
    SUM(sale_lines) AS sale_lines
FROM (
    SELECT * FROM batch.sales_daily
    UNION ALL
    SELECT * FROM (
        {{ speed_part }}
    ) AS speed
) AS parts
GROUP BY sale_date, store_id, sku
