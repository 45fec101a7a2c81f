"""Helpers for tests that drive the speed subscription on the twin.

``seek_before`` makes Pub/Sub redeliver everything published since a moment (the way a
real redelivery storm looks to the function); ``log_outcomes`` reads the speed function's
structured log lines for one envelope, so a test can see what the function decided.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from google.protobuf import timestamp_pb2

from salesphere import names
from salesphere.gcp import clients
from salesphere_tools.local.twin import Twin


def seek_before(twin: Twin, moment: datetime) -> None:
    """Retain acknowledged messages, then seek the speed subscription back to ``moment``."""
    subscriber = clients.subscriber(twin.settings)
    sub = clients.subscription_path(twin.settings, names.SUB_EVENTS_SPEED)
    subscriber.update_subscription(
        request={
            "subscription": {"name": sub, "retain_acked_messages": True},
            "update_mask": {"paths": ["retain_acked_messages"]},
        }
    )
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    subscriber.seek(request={"subscription": sub, "time": stamp})


def log_outcomes(log: Path, envelope_id: str) -> list[dict[str, object]]:
    """The speed function's JSON log lines that mention ``envelope_id``."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if envelope_id in line and line.startswith("{"):
            out.append(json.loads(line))
    return out
