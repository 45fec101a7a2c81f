"""Receipts assumed for transfers between our stores that nobody confirmed.

A transfer NF-e publishes only the sender's ``transfer_out``; the receiver's
``transfer_in`` comes with its confirmation of the operation (``210200``). When none has
come by the time the pair's lead time plus one day has passed since ``dhEmi``, the goods
are taken as arrived: each batch run writes into ``master.events``, inside its commit
transaction and before the batch views are refilled, one ``transfer_in`` per such item at
``dhEmi`` + lead time + 1 day, source :data:`ASSUMED_RECEIPT_SOURCE`, so stock is never
lost in transit for good.

Derived, never archived: every run first deletes the assumed receipts and derives them
again from what master holds then, so the result depends only on the archive and the
cutoff (the run's as-of time). The assumed receipt has the id a real receipt of that item
has (``transfer_in|<key>/<nItem>|sku|receiver|sender``, computed here in SQL as
:mod:`salesphere.identity` does in Python); a real receipt in master means none is
assumed, and one received after the cutoff is left out of the speed half while its assumed
twin is in master (``serving.events_since_cutoff`` drops ids master already has), so the
real one replaces the assumed one at the next run and the units never count twice.

Only fiscal transfers (``source`` ``nfe...``) are assumed received: the other feeds send
both legs themselves. A ``transfer_out`` voided by a cancellation is in transit nowhere.
Lead time: ``reference.transfer_lead_times`` for the pair, else
:data:`~salesphere.reference.DEFAULT_TRANSFER_DAYS_SAME_STATE` or ``_OTHER_STATE``.
"""

from __future__ import annotations

from salesphere.identity import EVENT_NAMESPACE
from salesphere.reference import (
    DEFAULT_TRANSFER_DAYS_OTHER_STATE,
    DEFAULT_TRANSFER_DAYS_SAME_STATE,
)
from salesphere.warehouse.schemas import MASTER_EVENTS

MASTER = MASTER_EVENTS.ref
#: ``source`` of an assumed receipt. Not imported from the fiscal package: the batch bundle
#: ships without the XML reader (lxml) that package needs.
ASSUMED_RECEIPT_SOURCE = "nfe-assumed-receipt"

#: UUIDv5 of the natural key ``k`` (a STRING expression), as identity.event_id_of does:
#: SHA-1 of namespace + key, version nibble 5, variant bits 10.
_HASH = f"LOWER(TO_HEX(SHA1(CONCAT(FROM_HEX('{EVENT_NAMESPACE.hex}'), CAST(k AS BYTES)))))"


def _uuid5(key: str) -> str:
    h = _HASH.replace("CAST(k AS", f"CAST({key} AS")
    return (
        f"(SELECT CONCAT(SUBSTR(h, 1, 8), '-', SUBSTR(h, 9, 4), '-5', SUBSTR(h, 14, 3), '-', "
        "SUBSTR('89ab89ab89ab89ab', STRPOS('0123456789abcdef', SUBSTR(h, 17, 1)), 1), "
        f"SUBSTR(h, 18, 3), '-', SUBSTR(h, 21, 12)) FROM (SELECT {h} AS h))"
    )


DELETE_ASSUMED = f"DELETE FROM {MASTER} WHERE source = '{ASSUMED_RECEIPT_SOURCE}';"

_KEY = (
    "CONCAT('transfer_in|', d.source_ref, '|', d.sku, '|', d.counterpart_store_id, '|', d.store_id)"
)

INSERT_ASSUMED = f"""INSERT INTO {MASTER} (
    event_id, event_type, occurred_at, received_at, source, source_ref, store_id, sku,
    quantity, unit_price, discount, currency, order_id, line_number, channel,
    counted_quantity, counterpart_store_id, schema_version
)
SELECT
    {_uuid5(_KEY)} AS event_id,
    'transfer_in' AS event_type,
    d.assumed_at AS occurred_at,
    TIMESTAMP_SUB(@cutoff, INTERVAL 1 MICROSECOND) AS received_at,
    '{ASSUMED_RECEIPT_SOURCE}' AS source,
    d.source_ref,
    d.counterpart_store_id AS store_id,
    d.sku,
    d.quantity,
    CAST(NULL AS NUMERIC) AS unit_price,
    CAST(0 AS NUMERIC) AS discount,
    d.currency,
    CAST(NULL AS STRING) AS order_id,
    CAST(NULL AS INT64) AS line_number,
    'backoffice' AS channel,
    CAST(NULL AS INT64) AS counted_quantity,
    d.store_id AS counterpart_store_id,
    d.schema_version
FROM (
    SELECT
        o.*,
        TIMESTAMP_ADD(
            o.occurred_at,
            INTERVAL (
                COALESCE(
                    tl.days,
                    IF(
                        fs.state = ts.state,
                        {DEFAULT_TRANSFER_DAYS_SAME_STATE},
                        {DEFAULT_TRANSFER_DAYS_OTHER_STATE}
                    )
                )
                + 1
            ) DAY
        ) AS assumed_at
    FROM {MASTER} AS o
    LEFT JOIN reference.stores AS fs ON o.store_id = fs.store_id
    LEFT JOIN reference.stores AS ts ON o.counterpart_store_id = ts.store_id
    LEFT JOIN reference.transfer_lead_times AS tl
        ON o.store_id = tl.from_store AND o.counterpart_store_id = tl.to_store
    WHERE
        o.event_type = 'transfer_out'
        AND STARTS_WITH(o.source, 'nfe')
        AND o.source_ref IS NOT NULL
        AND o.counterpart_store_id IS NOT NULL
        AND o.event_id NOT IN (
            SELECT v.source_ref FROM {MASTER} AS v
            WHERE v.event_type = 'void' AND v.source_ref IS NOT NULL
        )
        AND NOT EXISTS (
            SELECT 1 FROM {MASTER} AS i
            WHERE
                i.event_type = 'transfer_in'
                AND i.store_id = o.counterpart_store_id
                AND i.counterpart_store_id = o.store_id
                AND i.sku = o.sku
                AND i.source_ref = o.source_ref
        )
) AS d
WHERE d.assumed_at < @cutoff;"""


def statements() -> tuple[str, str]:
    """The two statements of a commit: forget the assumed receipts (before the new rows
    go in, so none is taken for an earlier copy of a real receipt), derive them again
    (after, so a real receipt just loaded wins)."""
    return DELETE_ASSUMED, INSERT_ASSUMED
