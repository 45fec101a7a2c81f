-- view: serving.open_purchase_orders
-- description: Purchase order lines and what has arrived against them: what is still in
--   transit per line, and how late. A line's state is its newest version in
--   ops.purchase_order_lines (a later ERP export may cancel it or change its quantity).
--   Receipts are the stock_receipt events of both halves (master.events before the cutoff,
--   serving.events_since_cutoff after it). A receipt naming its order and line (a supplier
--   NF-e's xPed / nItemPed, kept as order_id / line_number) goes to that line when store
--   and SKU agree, up to the line's quantity; every other receipt, and what a named line
--   could not take, goes to the open lines of the same store and SKU ordered at or before
--   it, oldest order first: first to the lines of the receipt's supplier (the issuer CNPJ
--   inside a supplier NF-e's access key), then receipts naming no supplier (the inventory
--   feed) to any supplier's lines. A cancelled line takes nothing and is never open.
-- grain: order_number, line_number
-- column: order_number: The purchase order's number in the ERP.
-- column: line_number: The line within the order.
-- column: supplier_cnpj: The supplier's CNPJ.
-- column: store_id: Store the goods are for (reference.stores).
-- column: sku: Product SKU (reference.products).
-- column: product_name: Product name (reference.products; NULL for an unknown SKU).
-- column: unit_cost: Agreed cost of one unit (BRL).
-- column: ordered_at: When the order was placed (UTC).
-- column: expected_delivery: Day the supplier promised the goods (store's calendar).
-- column: ordered_units: Units ordered on the line.
-- column: received_units: Units received against the line (named and oldest-first).
-- column: received_named_units: Of received_units, those whose receipt named this order
--   line (xPed / nItemPed).
-- column: cancelled_units: Units the cancellation took off: the whole line when it is
--   cancelled, else 0.
-- column: open_units: Units still in transit: ordered - received, 0 when cancelled or
--   fully received. serving.replenishment subtracts them (on_order).
-- column: open_value: open_units x unit_cost (BRL).
-- column: as_of_date: Today on the store's clock (reference.stores.timezone).
-- column: days_late: Days past expected_delivery while units are open (0 otherwise).
-- column: status: open (in transit, not yet due), late (in transit past its expected
--   delivery), received or cancelled.
-- example: SELECT order_number, line_number, store_id, sku, open_units, days_late
--   FROM serving.open_purchase_orders WHERE status = 'late' ORDER BY days_late DESC
WITH cutoff AS (
    SELECT COALESCE(MAX(b.cutoff), TIMESTAMP '1970-01-01 00:00:00+00') AS cutoff
    FROM batch.cutoff AS b
),

lines AS (
    SELECT
        p.order_number,
        p.line_number,
        p.supplier_cnpj,
        p.store_id,
        p.sku,
        p.quantity,
        p.unit_cost,
        p.ordered_at,
        p.expected_delivery,
        p.cancelled,
        IF(p.cancelled, 0, p.quantity) AS capacity
    FROM ops.purchase_order_lines AS p
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY p.order_number, p.line_number
        ORDER BY p.received_at DESC, p.request_id DESC
    ) = 1
),

all_receipts AS (
    SELECT
        m.event_id,
        m.store_id,
        m.sku,
        m.quantity,
        m.occurred_at,
        m.order_id,
        m.line_number,
        m.source,
        m.source_ref
    FROM master.events AS m
    CROSS JOIN cutoff
    WHERE m.event_type = 'stock_receipt' AND m.received_at < cutoff.cutoff
    UNION ALL
    SELECT
        s.event_id,
        s.store_id,
        s.sku,
        s.quantity,
        s.occurred_at,
        s.order_id,
        s.line_number,
        s.source,
        s.source_ref
    FROM serving.events_since_cutoff AS s
    WHERE s.event_type = 'stock_receipt'
),

receipts AS (
    SELECT
        r.*,
        -- A supplier NF-e's receipt has `<access key>/<item>` as source_ref; the key holds
        -- the issuer's CNPJ at positions 7-20.
        IF(
            STARTS_WITH(r.source, 'nfe') AND LENGTH(r.source_ref) > 44,
            SUBSTR(r.source_ref, 7, 14),
            NULL
        ) AS supplier_cnpj
    FROM all_receipts AS r
),

-- 1. Receipts naming their order line.
named AS (
    SELECT
        l.order_number,
        l.line_number,
        LEAST(l.capacity, SUM(r.quantity)) AS units
    FROM lines AS l
    INNER JOIN receipts AS r
        ON
            l.order_number = r.order_id
            AND l.line_number = r.line_number
            AND l.store_id = r.store_id
            AND l.sku = r.sku
    GROUP BY l.order_number, l.line_number, l.capacity
),

-- What a named line could not take goes to the pool, at the time of its first receipt.
named_overflow AS (
    SELECT
        l.store_id,
        l.sku,
        ANY_VALUE(r.supplier_cnpj) AS supplier_cnpj,
        MIN(r.occurred_at) AS occurred_at,
        SUM(r.quantity) - l.capacity AS quantity
    FROM lines AS l
    INNER JOIN receipts AS r
        ON
            l.order_number = r.order_id
            AND l.line_number = r.line_number
            AND l.store_id = r.store_id
            AND l.sku = r.sku
    GROUP BY l.order_number, l.line_number, l.store_id, l.sku, l.capacity
    HAVING SUM(r.quantity) > l.capacity
),

pool AS (
    SELECT
        r.store_id,
        r.sku,
        r.supplier_cnpj,
        r.occurred_at,
        r.quantity
    FROM receipts AS r
    LEFT JOIN lines AS l
        ON
            r.order_id = l.order_number
            AND r.line_number = l.line_number
            AND r.store_id = l.store_id
            AND r.sku = l.sku
    WHERE l.order_number IS NULL
    UNION ALL
    SELECT
        o.store_id,
        o.sku,
        o.supplier_cnpj,
        o.occurred_at,
        o.quantity
    FROM named_overflow AS o
),

after_named AS (
    SELECT
        l.*,
        l.capacity - COALESCE(n.units, 0) AS room,
        COALESCE(n.units, 0) AS named_units
    FROM lines AS l
    LEFT JOIN named AS n ON l.order_number = n.order_number AND l.line_number = n.line_number
),

-- 2. Oldest first, a receipt only to lines ordered at or before it. With lines sorted by
-- ordered_at, what the first i lines can take from receipts is the least of their room
-- and, for each k <= i, the room of the lines before k plus the receipts at or after line
-- k's order: a receipt earlier than line k cannot reach line k or any later one.
supplier_prefix AS (
    SELECT
        a.order_number,
        a.line_number,
        a.store_id,
        a.sku,
        a.supplier_cnpj,
        a.ordered_at,
        a.room,
        SUM(a.room) OVER w AS room_through,
        SUM(a.room) OVER w - a.room AS room_before
    FROM after_named AS a
    WINDOW w AS (
        PARTITION BY a.store_id, a.sku, a.supplier_cnpj
        ORDER BY a.ordered_at, a.order_number, a.line_number
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    )
),

supplier_reach AS (
    SELECT
        sp.order_number,
        sp.line_number,
        sp.room_before + COALESCE(SUM(p.quantity), 0) AS bound
    FROM supplier_prefix AS sp
    LEFT JOIN pool AS p
        ON
            sp.store_id = p.store_id
            AND sp.sku = p.sku
            AND sp.supplier_cnpj = p.supplier_cnpj
            AND sp.ordered_at <= p.occurred_at
    GROUP BY sp.order_number, sp.line_number, sp.room_before
),

supplier_taken AS (
    SELECT
        sp.*,
        LEAST(
            sp.room_through,
            MIN(sr.bound) OVER (
                PARTITION BY sp.store_id, sp.sku, sp.supplier_cnpj
                ORDER BY sp.ordered_at, sp.order_number, sp.line_number
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
            )
        ) AS taken_through
    FROM supplier_prefix AS sp
    INNER JOIN supplier_reach AS sr
        ON sp.order_number = sr.order_number AND sp.line_number = sr.line_number
),

after_supplier AS (
    SELECT
        st.order_number,
        st.line_number,
        st.store_id,
        st.sku,
        st.ordered_at,
        st.taken_through - COALESCE(
            LAG(st.taken_through) OVER (
                PARTITION BY st.store_id, st.sku, st.supplier_cnpj
                ORDER BY st.ordered_at, st.order_number, st.line_number
            ),
            0
        ) AS supplier_units,
        st.room
    FROM supplier_taken AS st
),

-- 3. The same over receipts naming no supplier, into the room left, any supplier's lines.
any_prefix AS (
    SELECT
        a.order_number,
        a.line_number,
        a.store_id,
        a.sku,
        a.ordered_at,
        a.supplier_units,
        a.room - a.supplier_units AS room,
        SUM(a.room - a.supplier_units) OVER w AS room_through,
        SUM(a.room - a.supplier_units) OVER w - (a.room - a.supplier_units) AS room_before
    FROM after_supplier AS a
    WINDOW w AS (
        PARTITION BY a.store_id, a.sku
        ORDER BY a.ordered_at, a.order_number, a.line_number
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    )
),

any_reach AS (
    SELECT
        ap.order_number,
        ap.line_number,
        ap.room_before + COALESCE(SUM(p.quantity), 0) AS bound
    FROM any_prefix AS ap
    LEFT JOIN pool AS p
        ON
            ap.store_id = p.store_id
            AND ap.sku = p.sku
            AND p.supplier_cnpj IS NULL
            AND ap.ordered_at <= p.occurred_at
    GROUP BY ap.order_number, ap.line_number, ap.room_before
),

any_taken AS (
    SELECT
        ap.*,
        LEAST(
            ap.room_through,
            MIN(ar.bound) OVER (
                PARTITION BY ap.store_id, ap.sku
                ORDER BY ap.ordered_at, ap.order_number, ap.line_number
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
            )
        ) AS taken_through
    FROM any_prefix AS ap
    INNER JOIN any_reach AS ar
        ON ap.order_number = ar.order_number AND ap.line_number = ar.line_number
),

received AS (
    SELECT
        tk.order_number,
        tk.line_number,
        tk.supplier_units + tk.taken_through - COALESCE(
            LAG(tk.taken_through) OVER (
                PARTITION BY tk.store_id, tk.sku
                ORDER BY tk.ordered_at, tk.order_number, tk.line_number
            ),
            0
        ) AS pooled_units
    FROM any_taken AS tk
),

stated AS (
    SELECT
        a.*,
        a.named_units + rc.pooled_units AS received_units,
        CURRENT_DATE(COALESCE(st.timezone, 'America/Sao_Paulo')) AS as_of_date,
        pr.name AS product_name
    FROM after_named AS a
    INNER JOIN received AS rc
        ON a.order_number = rc.order_number AND a.line_number = rc.line_number
    LEFT JOIN reference.stores AS st ON a.store_id = st.store_id
    LEFT JOIN reference.products AS pr ON a.sku = pr.sku
),

measured AS (
    SELECT
        s.*,
        IF(s.cancelled, 0, s.quantity - s.received_units) AS open_units
    FROM stated AS s
)

SELECT
    m.order_number,
    m.line_number,
    m.supplier_cnpj,
    m.store_id,
    m.sku,
    m.product_name,
    m.unit_cost,
    m.ordered_at,
    m.expected_delivery,
    m.quantity AS ordered_units,
    m.received_units,
    m.named_units AS received_named_units,
    IF(m.cancelled, m.quantity, 0) AS cancelled_units,
    m.open_units,
    m.open_units * m.unit_cost AS open_value,
    m.as_of_date,
    IF(
        m.open_units > 0, GREATEST(DATE_DIFF(m.as_of_date, m.expected_delivery, DAY), 0), 0
    ) AS days_late,
    CASE
        WHEN m.cancelled THEN 'cancelled'
        WHEN m.open_units = 0 THEN 'received'
        WHEN m.as_of_date > m.expected_delivery THEN 'late'
        ELSE 'open'
    END AS status
FROM measured AS m
