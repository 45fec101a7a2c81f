"""Deduplication by ``event_id``: the rules both runtimes apply before writing.

Duplicates reach the speed layer three ways: Pub/Sub redelivers a message (ack lost,
deadline passed, a nack after a partial failure), a POS retries a request (ingest derives
the same ids, so the same events arrive in a new message), and an envelope carries one
event twice. The speed layer defends in depth:

1. within an envelope, :func:`salesphere.speed.rows.unpack_message` keeps the first;
2. the Beam runtime remembers the ids it has handled for :data:`DEDUP_TTL_SECONDS` of
   processing time in a bounded, unkeyed memory
   (``salesphere.speed.transforms.RecentIds``; DirectRunner has no Pub/Sub
   ``id_label``, and keyed state with a timer per id cost a shuffle and a timer per
   event). It only ever *drops* ids it has seen; an id it does not hold is never
   assumed new;
3. before inserting, the question "which ids already exist?" is answered exactly: by
   the sink (``salesphere.speed.sink``) asking BigQuery (Beam), or by the function's
   process memory, which holds every id received in the last days and reloads itself
   after any failed write (``salesphere.speed.memory``). Inserts pass
   ``insertId=event_id`` so two racing writers collapse too.

Layer 3 alone is exact; layers 1–2 make it cheap.
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
