-- view: batch.sales_daily
-- description: Sales and returns per local business day, store and SKU, over the events a
--   batch run absorbed (received before its cutoff). The business day is the date on the
--   store's own clock (reference.stores.timezone; the web shop WEB is on São Paulo time), so
--   a sale at 22:30 in São Paulo on 24/11 (01:30 UTC on 25/11) is booked on 24/11. Every
--   column but orders is additive, so serving.sales_daily adds the same aggregation over
--   speed events received after the cutoff; orders is recounted there from the union of both
--   halves' order_ids.
-- grain: sale_date, store_id, sku
-- column: sale_date: Local business date of the sale or return: occurred_at on the store's
--   clock (reference.stores.timezone), not the UTC date and not when it arrived.
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
-- column: sale_lines: Sale lines (events), the exactly-once check unit (a negation in the
--   speed half counts -1).
WITH src AS (
    SELECT * FROM {{ source }}
)

SELECT
    DATE(src.occurred_at, COALESCE(st.timezone, {{ home_timezone }})) AS sale_date,
    src.store_id,
    src.sku,
    SUM(IF(src.event_type = 'sale', src.quantity, 0)) AS units_sold,
    SUM(IF(src.event_type = 'return', src.quantity, 0)) AS units_returned,
    SUM(IF(src.event_type = 'sale', src.unit_price * src.quantity, 0)) AS gross_sales,
    SUM(IF(src.event_type = 'sale', src.discount, 0)) AS discounts,
    SUM(
        IF(src.event_type = 'return', src.unit_price * src.quantity - src.discount, 0)
    ) AS returns_amount,
    SUM(
        CASE src.event_type
            WHEN 'sale' THEN src.unit_price * src.quantity - src.discount
            WHEN 'return' THEN src.discount - src.unit_price * src.quantity
            ELSE 0
        END
    ) AS net_sales,
    COUNT(DISTINCT IF(src.event_type = 'sale' AND src.quantity > 0, src.order_id, NULL))
        AS orders,
    ARRAY_AGG(
        DISTINCT IF(src.event_type = 'sale' AND src.quantity > 0, src.order_id, NULL)
        IGNORE NULLS
    ) AS order_ids,
    SUM(IF(src.event_type = 'sale', SIGN(src.quantity), 0)) AS sale_lines
FROM src
LEFT JOIN reference.stores AS st
    ON src.store_id = st.store_id
WHERE src.event_type IN ('sale', 'return')
GROUP BY sale_date, src.store_id, src.sku
