"""Deterministic event identity: the same business fact always gets the same ``event_id``.

This is what makes the exactly-once rule possible. A POS retry, a Pub/Sub redelivery,
a spreadsheet uploaded twice and the end-of-day export of a sale already seen live all
map to one id, so every layer can deduplicate by ``event_id`` alone.

The id is a UUIDv5 over the event's *natural key*, which is chosen per event type from
fields every source carries, never from source-specific ids:

* ``sale`` / ``return``: order id and line number (order ids are unique across stores
  and channels because each POS and the web shop prefix their own).
* ``stock_count``: store, SKU and the instant of the count (a count is a snapshot).
* ``stock_receipt`` / ``stock_adjustment``: store, SKU and the document reference.
* ``transfer_out`` / ``transfer_in``: the transfer document, SKU and both stores.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

#: Fixed namespace for SalesSphere event ids. Changing it changes every id: never do.
EVENT_NAMESPACE = uuid.UUID("5a1e5e5a-0000-4000-8000-5a1e5f3e4e00")


def key_text(
    event_type: str,
    store_id: str,
    sku: str,
    instant: str,
    order_id: object = None,
    line_number: object = None,
    source_ref: object = None,
    counterpart_store_id: object = None,
) -> str:
    """The natural key of one event, the string its id hashes: the one definition.

    ``instant`` is the occurrence in UTC to the second (``2026-11-28T17:03:00Z``); only a
    stock count uses it. Every ingest path (the pydantic model, the fast row builder and
    the fused spreadsheet kernel) calls this, so none can spell a key differently.
    """
    if event_type in ("sale", "return"):
        return f"{event_type}|{order_id}|{line_number}"
    if event_type == "stock_count":
        return f"{event_type}|{store_id}|{sku}|{instant}"
    if event_type in ("transfer_out", "transfer_in"):
        return f"{event_type}|{source_ref}|{sku}|{store_id}|{counterpart_store_id}"
    return f"{event_type}|{store_id}|{sku}|{source_ref}"


def natural_key(
    *,
    event_type: str,
    store_id: str,
    sku: str,
    occurred_at: datetime,
    order_id: str | None = None,
    line_number: int | None = None,
    source_ref: str | None = None,
    counterpart_store_id: str | None = None,
) -> str:
    """:func:`key_text` of an event whose time is a ``datetime``; exposed for docs and debugging."""
    instant = occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return key_text(
        event_type, store_id, sku, instant, order_id, line_number, source_ref, counterpart_store_id
    )


def derive_event_id(**key: object) -> str:
    """UUIDv5 of :func:`natural_key`; same inputs, same id, on every machine."""
    return str(uuid.uuid5(EVENT_NAMESPACE, natural_key(**key)))  # type: ignore[arg-type]


_NAMESPACE = EVENT_NAMESPACE.bytes


def event_id_of(natural_key_text: str) -> str:
    """:func:`derive_event_id` for a key already built, without a ``UUID`` object.

    UUIDv5 is SHA-1 of namespace + name with the version and variant bits set; doing it
    on bytes costs a fraction of ``uuid.uuid5`` (the ingest hot paths call this). A unit
    test checks both agree for every event type.
    """
    raw = bytearray(hashlib.sha1(_NAMESPACE + natural_key_text.encode()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
