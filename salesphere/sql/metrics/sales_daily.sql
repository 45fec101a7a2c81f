-- view: batch.sales_daily
-- description: Sales and returns per UTC day, store and SKU, over the events a batch run
--   absorbed (received before its cutoff). Every column but orders is additive, so
--   serving.sales_daily adds the same aggregation over speed events received after the
--   cutoff; orders is recounted there from the union of both halves' order_ids.
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
-- column: orders: Distinct orders with a sale line for this SKU, over this half only
--   (serving.sales_daily counts from order_ids, not from this column).
-- column: order_ids: The distinct order ids behind orders, so serving.sales_daily can count
--   an order whose lines arrived on both sides of the cutoff once.
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
    ARRAY_AGG(DISTINCT IF(event_type = 'sale', order_id, NULL) IGNORE NULLS) AS order_ids,
    COUNTIF(event_type = 'sale') AS sale_lines
FROM {{ source }}
WHERE event_type IN ('sale', 'return')
GROUP BY sale_date, store_id, sku
