-- view: serving.web_invoice_orders
-- description: The web shop's NF-e invoices matched to the web orders they invoice. The
--   order feed stays the online channel's sales authority: an invoice adds no sale, it
--   names its order (xPed, or the free text, per the fiscal policy), and ingest keeps that
--   link with the invoice's access key in ops.ingest_log. An invoice is matched when an
--   online sale (master.events or serving.events_since_cutoff) carries that order_id. The
--   view reads current data, so an invoice that arrived before its order is matched as
--   soon as the order lands. Web orders placed more than 3 days ago with no invoice are
--   listed too, from the first invoice received on (older orders predate invoicing). A
--   cancelled invoice is left out (its order then counts as uninvoiced).
-- grain: document_key, order_id
-- column: order_id: The web order number (the order feed's order_id; the invoice's xPed
--   or free-text order number).
-- column: document_key: The invoice's access key (NULL for an uninvoiced order).
-- column: issuer_cnpj: The CNPJ inside the access key: the web shop that issued it (NULL
--   for an uninvoiced order).
-- column: store_id: The web order's store (NULL when no order matches).
-- column: ordered_at: When the order was placed: its earliest sale line (UTC; NULL when
--   no order matches).
-- column: invoiced_at: When the platform first received the invoice (UTC; NULL for an
--   uninvoiced order).
-- column: status: matched, unmatched (the invoice names an order the platform never
--   received) or uninvoiced (a web order more than 3 days old without an invoice).
-- column: days_waiting: Whole days the invoice has waited for its order (unmatched) or
--   the order for its invoice (uninvoiced); 0 when matched.
-- example: SELECT order_id, document_key, invoiced_at, days_waiting
--   FROM serving.web_invoice_orders WHERE status = 'unmatched' ORDER BY invoiced_at
WITH cancelled AS (
    -- an accepted cancellation logs the key it cancels, without an order
    SELECT DISTINCT c.document_key
    FROM ops.ingest_log AS c
    WHERE c.document_key IS NOT NULL AND c.order_id IS NULL
),

invoices AS (
    -- a re-sent invoice logs its row again: one row per access key; cancelled ones are out
    SELECT
        l.document_key,
        ANY_VALUE(l.order_id) AS order_id,
        MIN(l.received_at) AS invoiced_at
    FROM ops.ingest_log AS l
    WHERE
        l.document_key IS NOT NULL
        AND l.order_id IS NOT NULL
        AND l.document_key NOT IN (SELECT k.document_key FROM cancelled AS k)
    GROUP BY l.document_key
),

online_sales AS (
    -- an event in both halves only repeats an order line: the grouping below absorbs it
    SELECT
        m.order_id,
        m.store_id,
        m.occurred_at
    FROM master.events AS m
    WHERE m.event_type = 'sale' AND m.channel = 'online' AND m.order_id IS NOT NULL
    UNION ALL
    SELECT
        s.order_id,
        s.store_id,
        s.occurred_at
    FROM serving.events_since_cutoff AS s
    WHERE s.event_type = 'sale' AND s.channel = 'online' AND s.order_id IS NOT NULL
),

web_orders AS (
    SELECT
        o.order_id,
        MIN(o.store_id) AS store_id,
        MIN(o.occurred_at) AS ordered_at
    FROM online_sales AS o
    GROUP BY o.order_id
),

invoiced AS (
    SELECT
        i.order_id,
        i.document_key,
        SUBSTR(i.document_key, 7, 14) AS issuer_cnpj,
        w.store_id,
        w.ordered_at,
        i.invoiced_at,
        IF(w.order_id IS NULL, 'unmatched', 'matched') AS status,
        IF(
            w.order_id IS NULL, TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), i.invoiced_at, DAY), 0
        ) AS days_waiting
    FROM invoices AS i
    LEFT JOIN web_orders AS w ON i.order_id = w.order_id
),

uninvoiced AS (
    SELECT
        w.order_id,
        CAST(NULL AS STRING) AS document_key,
        CAST(NULL AS STRING) AS issuer_cnpj,
        w.store_id,
        w.ordered_at,
        CAST(NULL AS TIMESTAMP) AS invoiced_at,
        'uninvoiced' AS status,
        TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), w.ordered_at, DAY) AS days_waiting
    FROM web_orders AS w
    CROSS JOIN (SELECT MIN(v.invoiced_at) AS first_invoice FROM invoices AS v) AS f
    LEFT JOIN invoices AS i ON w.order_id = i.order_id
    WHERE
        i.order_id IS NULL
        AND w.ordered_at >= f.first_invoice
        AND w.ordered_at < TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 3 DAY)
)

SELECT * FROM invoiced
UNION ALL
SELECT * FROM uninvoiced
