-- view: batch.inventory_positions
-- description: Per store and SKU, the latest stock count and the net movement that
--   happened after it (or since the beginning when never counted), over the events a batch
--   run absorbed. A count overrules the running total: movements that happened before the
--   latest count do not change units on hand.
-- grain: store_id, sku
-- column: store_id: Store id (reference.stores).
-- column: sku: Product SKU (reference.products).
-- column: last_count_at: When the latest stock count happened (NULL when never counted).
-- column: last_count_quantity: Units counted then (NULL when never counted).
-- column: net_movement_after_count: Signed units moved after last_count_at (all movements
--   when never counted).
-- column: last_event_at: When the latest stock-relevant event happened.
-- column: events: Stock-relevant events seen (sales, returns, receipts, adjustments,
--   transfers, counts).
WITH src AS (
    SELECT * FROM {{ source }}
),

counts AS (
    SELECT
        store_id,
        sku,
        MAX(occurred_at) AS last_count_at,
        ARRAY_AGG(counted_quantity ORDER BY occurred_at DESC LIMIT 1)[OFFSET(0)]
            AS last_count_quantity
    FROM src
    WHERE event_type = 'stock_count'
    GROUP BY store_id, sku
)

SELECT
    src.store_id,
    src.sku,
    counts.last_count_at,
    counts.last_count_quantity,
    SUM(
        IF(
            counts.last_count_at IS NULL OR src.occurred_at > counts.last_count_at,
            {{ signed_quantity }},
            0
        )
    ) AS net_movement_after_count,
    MAX(src.occurred_at) AS last_event_at,
    SUM(IF(src.quantity < 0, -1, 1)) AS events
FROM src
LEFT JOIN counts
    ON src.store_id = counts.store_id AND src.sku = counts.sku
GROUP BY src.store_id, src.sku, counts.last_count_at, counts.last_count_quantity
