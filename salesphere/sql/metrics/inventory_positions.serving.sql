-- view: serving.inventory_on_hand
-- description: Units on hand per store and SKU = the latest stock count (batch or speed,
--   whichever happened later) plus every movement that happened after it, from either side
--   of the cutoff. When the latest count arrived after the cutoff, movements the batch run
--   absorbed that happened after that count are added back from master.events.
-- grain: store_id, sku
-- column: store_id: Store id (reference.stores).
-- column: sku: Product SKU (reference.products).
-- column: on_hand: Units on hand now (may be negative when sales outran recorded stock).
-- column: last_count_at: When the latest stock count happened (NULL when never counted).
-- column: last_count_quantity: Units counted then.
-- column: last_event_at: When the latest stock-relevant event happened.
WITH cutoff AS (
    -- Aliased: in BigQuery the bare table name `cutoff` would mean the whole row.
    SELECT COALESCE(MAX(b.cutoff), TIMESTAMP '1970-01-01 00:00:00+00') AS cutoff
    FROM batch.cutoff AS b
),

speed AS (
    {{ speed_part }}
),

speed_moves AS (
    SELECT
        store_id,
        sku,
        occurred_at,
        {{ signed_quantity }} AS signed_quantity
    FROM serving.events_counted_since_cutoff
    WHERE event_type != 'stock_count'
),

positions AS (
    SELECT
        COALESCE(b.store_id, s.store_id) AS store_id,
        COALESCE(b.sku, s.sku) AS sku,
        b.last_count_at AS batch_count_at,
        b.last_count_quantity AS batch_count_quantity,
        b.net_movement_after_count AS batch_net,
        s.last_count_at AS speed_count_at,
        s.last_count_quantity AS speed_count_quantity,
        s.net_movement_after_count AS speed_net,
        GREATEST(
            COALESCE(b.last_event_at, s.last_event_at),
            COALESCE(s.last_event_at, b.last_event_at)
        ) AS last_event_at,
        s.last_count_at IS NOT NULL
        AND (b.last_count_at IS NULL OR s.last_count_at > b.last_count_at) AS speed_count_wins
    FROM batch.inventory_positions AS b
    FULL OUTER JOIN speed AS s
        ON b.store_id = s.store_id AND b.sku = s.sku
),

late_batch_moves AS (
    SELECT
        p.store_id,
        p.sku,
        SUM({{ signed_quantity }}) AS net
    FROM positions AS p
    INNER JOIN master.events AS m
        ON p.store_id = m.store_id AND p.sku = m.sku
    CROSS JOIN cutoff
    WHERE
        p.speed_count_wins
        AND m.received_at < cutoff.cutoff
        AND m.occurred_at > p.speed_count_at
        AND m.event_type NOT IN ('stock_count', 'void')
        -- Events a void in the batch half cancels (one in the speed half is taken back
        -- by its negation in speed_moves).
        AND m.event_id NOT IN (
            SELECT v.source_ref
            FROM master.events AS v
            WHERE
                v.event_type = 'void'
                AND v.received_at < cutoff.cutoff
                AND v.source_ref IS NOT NULL
        )
    GROUP BY p.store_id, p.sku
),

speed_after_batch_count AS (
    SELECT
        p.store_id,
        p.sku,
        SUM(sm.signed_quantity) AS net
    FROM positions AS p
    INNER JOIN speed_moves AS sm
        ON p.store_id = sm.store_id AND p.sku = sm.sku
    WHERE
        NOT p.speed_count_wins
        AND (p.batch_count_at IS NULL OR sm.occurred_at > p.batch_count_at)
    GROUP BY p.store_id, p.sku
)

SELECT
    p.store_id,
    p.sku,
    IF(
        p.speed_count_wins,
        p.speed_count_quantity + p.speed_net + COALESCE(lbm.net, 0),
        COALESCE(p.batch_count_quantity, 0)
        + COALESCE(p.batch_net, 0)
        + COALESCE(sabc.net, 0)
    ) AS on_hand,
    IF(p.speed_count_wins, p.speed_count_at, p.batch_count_at) AS last_count_at,
    IF(p.speed_count_wins, p.speed_count_quantity, p.batch_count_quantity)
        AS last_count_quantity,
    p.last_event_at
FROM positions AS p
LEFT JOIN late_batch_moves AS lbm
    ON p.store_id = lbm.store_id AND p.sku = lbm.sku
LEFT JOIN speed_after_batch_count AS sabc
    ON p.store_id = sabc.store_id AND p.sku = sabc.sku
