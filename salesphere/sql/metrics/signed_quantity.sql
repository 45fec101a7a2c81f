-- snippet: signed_quantity
-- description: Units an event adds to (+) or removes from (-) a store's stock; the one
--   definition of stock direction, included wherever movements are summed. Stock counts are
--   absolute snapshots, not movements, so they contribute 0 here.
CASE event_type
    WHEN 'stock_receipt' THEN quantity
    WHEN 'transfer_in' THEN quantity
    WHEN 'return' THEN quantity
    WHEN 'sale' THEN -quantity
    WHEN 'stock_adjustment' THEN -quantity
    WHEN 'transfer_out' THEN -quantity
    ELSE 0
END
