-- view: serving.transfer_suggestions
-- description: Stock to move between stores before buying more, per SKU: from stores
--   holding more on the shelf than their order-up-to level to stores at or below their
--   reorder point, same state first, then across states. A donor gives only what it holds
--   above its own order-up-to level, so the transfer never makes it buy at its next
--   review; a receiver gets up to its order-up-to level, and serving.replenishment orders
--   only what the transfers do not cover. Levels, on hand, on order and units already in
--   transit are serving.replenishment's; the allocation (running sums of surplus and need,
--   largest first, then store id) is computed there, once, and unnested here.
-- grain: sku, from_store, to_store
-- column: sku: Product SKU (reference.products).
-- column: product_name: Product name (reference.products).
-- column: from_store: Store the units leave (reference.stores).
-- column: to_store: Store the units go to (reference.stores).
-- column: units: Units to move.
-- column: same_state: Both stores are in the same state.
-- column: lead_time_days: Days the transfer takes (reference.transfer_lead_times; 2
--   within a state and 4 across when the pair has no row).
-- column: as_of_date: Today on the receiving store's clock.
-- column: from_on_hand: Units on hand at the sender now.
-- column: from_order_up_to: The sender's order-up-to level: it keeps at least this.
-- column: to_on_hand: Units on hand at the receiver now.
-- column: to_on_order: Units on order or in transit to the receiver.
-- column: to_reorder_point: The receiver's computed reorder point.
-- column: to_order_up_to: The receiver's order-up-to level.
-- column: to_stockout_date: When the receiver is expected to run out without the transfer.
-- column: to_suggested_order_quantity: What the receiver still buys after all its
--   transfers (serving.replenishment.suggested_order_quantity).
-- example: SELECT sku, from_store, units, lead_time_days FROM serving.transfer_suggestions
--   WHERE to_store = 'SP01' ORDER BY to_stockout_date, sku
SELECT
    r.sku,
    r.product_name,
    t.from_store,
    r.store_id AS to_store,
    t.units,
    t.same_state,
    t.lead_time_days,
    r.as_of_date,
    d.on_hand AS from_on_hand,
    d.order_up_to AS from_order_up_to,
    r.on_hand AS to_on_hand,
    r.on_order AS to_on_order,
    r.computed_reorder_point AS to_reorder_point,
    r.order_up_to AS to_order_up_to,
    r.stockout_date AS to_stockout_date,
    r.suggested_order_quantity AS to_suggested_order_quantity
FROM serving.replenishment AS r
CROSS JOIN UNNEST(r.transfers_in) AS t
INNER JOIN serving.replenishment AS d ON t.from_store = d.store_id AND r.sku = d.sku
