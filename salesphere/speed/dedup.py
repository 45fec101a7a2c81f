"""Deduplication by ``event_id``: the rules both runtimes apply before writing.

Duplicates reach the speed layer three ways: Pub/Sub redelivers a message (ack lost,
deadline passed, a nack after a partial failure), a POS retries a request (ingest derives
the same ids, so the same events arrive in a new message), and an envelope carries one
event twice. The speed layer defends in depth:

1. within an envelope, :func:`salesphere.speed.rows.unpack_message` keeps the first;
2. each process remembers the ids it has already handled: the Beam runtime for
   :data:`DEDUP_TTL_SECONDS` of processing time in a bounded, unkeyed memory
   (``salesphere.speed.transforms.RecentIds``; DirectRunner has no Pub/Sub
   ``id_label``, and keyed state with a timer per id cost a shuffle and a timer per
   event), the function runtime in an LRU of ids it has seen written
   (``salesphere.speed.handler.WrittenIds``). Both only ever *drop* ids they have seen;
   an id they do not hold is never assumed new;
3. the sink (``salesphere.io.bq_sink``) asks BigQuery which ids already exist before it
   inserts, and passes ``insertId=event_id`` so two racing writers collapse too.

Layer 3 alone is exact; layers 1–2 make it cheap, and layer 3 makes restarts safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: How long the Beam runtime remembers an id. Pub/Sub redelivers after the ack deadline
#: (30 s) and POS clients retry within minutes; later duplicates fall through to the sink.
DEDUP_TTL_SECONDS = 600


def unseen(rows: Iterable[dict[str, Any]], known_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Rows whose ``event_id`` is not in ``known_ids``, first occurrence only, order kept."""
    seen = set(known_ids)
    out = []
    for row in rows:
        event_id = row["event_id"]
        if event_id in seen:
            continue
        seen.add(event_id)
        out.append(row)
    return out
