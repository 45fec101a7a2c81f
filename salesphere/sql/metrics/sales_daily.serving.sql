-- view: serving.sales_daily
-- description: Sales by local business day, store and SKU: batch.sales_daily (events
--   received before the cutoff) plus the same aggregation over speed events received after
--   it. The day is the store's own (reference.stores.timezone; WEB on São Paulo time), as on
--   the till's end-of-day report. Complete and corrected up to the cutoff, seconds-fresh
--   after it; every sale line and every order counted once.
-- grain: sale_date, store_id, sku
-- column: sale_date: Local business date of the sale or return (occurred_at on the store's
--   clock, reference.stores.timezone); occurred_at itself stays UTC in the events.
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
WITH parts AS (
    SELECT * FROM batch.sales_daily
    UNION ALL
    SELECT * FROM (
        {{ speed_part }}
    ) AS speed
),

order_counts AS (
    SELECT
        p.sale_date,
        p.store_id,
        p.sku,
        COUNT(DISTINCT o) AS orders
    FROM parts AS p
    CROSS JOIN UNNEST(p.order_ids) AS o
    -- A ticket the batch half counted and a void after the cutoff cancelled.
    WHERE o NOT IN (
        SELECT n.order_id
        FROM serving.events_counted_since_cutoff AS n
        WHERE n.negation AND n.event_type = 'sale'
    )
    GROUP BY p.sale_date, p.store_id, p.sku
)

SELECT
    parts.sale_date,
    parts.store_id,
    parts.sku,
    SUM(parts.units_sold) AS units_sold,
    SUM(parts.units_returned) AS units_returned,
    SUM(parts.gross_sales) AS gross_sales,
    SUM(parts.discounts) AS discounts,
    SUM(parts.returns_amount) AS returns_amount,
    SUM(parts.net_sales) AS net_sales,
    COALESCE(ANY_VALUE(oc.orders), 0) AS orders,
    SUM(parts.sale_lines) AS sale_lines
FROM parts
LEFT JOIN order_counts AS oc
    ON
        parts.sale_date = oc.sale_date
        AND parts.store_id = oc.store_id
        AND parts.sku = oc.sku
GROUP BY parts.sale_date, parts.store_id, parts.sku
