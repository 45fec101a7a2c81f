-- view: batch.sales_daily
-- description: Sales and returns per UTC day, store and SKU, over the events a batch run
--   absorbed (received before its cutoff). Every column is additive, so serving.sales_daily
--   adds the same aggregation over speed events received after the cutoff.
-- grain: sale_date, store_id, sku
-- column: sale_date: UTC date the sale or return happened (occurred_at), not when it arrived.
-- column: store_id: Store or channel id (reference.stores).
-- column: sku: Product SKU (reference.products).
-- column: units_sold: Units on sale lines.
-- column: units_returned: Units on return lines.
-- column: gross_sales: Sum of unit_price * quantity on sale lines (BRL).
-- column: discounts: Sum of discounts on sale lines (BRL).
-- column: returns_amount: Refunded value of return lines, unit_price * quantity - discount (BRL).
-- column: net_sales: gross_sales - discounts - returns_amount (BRL).
-- column: orders: Distinct orders with a sale line for this SKU; see docs/batch-and-serving.md
--   for the one case where an order is counted on both sides of the cutoff.
-- column: sale_lines: Sale lines (events), the exactly-once check unit.
SELECT
    DATE(occurred_at) AS sale_date,
    store_id,
    sku,
    SUM(IF(event_type = 'sale', quantity, 0)) AS units_sold,
    SUM(IF(event_type = 'return', quantity, 0)) AS units_returned,
    SUM(IF(event_type = 'sale', unit_price * quantity, 0)) AS gross_sales,
    SUM(IF(event_type = 'sale', discount, 0)) AS discounts,
    SUM(IF(event_type = 'return', unit_price * quantity - discount, 0)) AS returns_amount,
    SUM(
        CASE event_type
            WHEN 'sale' THEN unit_price * quantity - discount
            WHEN 'return' THEN discount - unit_price * quantity
            ELSE 0
        END
    ) AS net_sales,
    COUNT(DISTINCT IF(event_type = 'sale', order_id, NULL)) AS orders,
    COUNTIF(event_type = 'sale') AS sale_lines
FROM {{ source }}
WHERE event_type IN ('sale', 'return')
GROUP BY sale_date, store_id, sku
