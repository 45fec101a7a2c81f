"""Exactly once, at every checkpoint: random interleavings of events, duplicates, late
arrivals, re-uploads and batch runs; every checkpoint compares serving views with an
independent recomputation from the distinct accepted events. Bounded: few, small examples.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from salesphere.batch.runner import run_batch
from salesphere.gcp import clients
from tests.support import batch as h

pytestmark = pytest.mark.twin

STEP = st.sampled_from(
    ["new", "duplicate", "late", "reupload", "count", "batch", "midnight", "order_line"]
)
#: The SKU of the one multi-line order a history builds up, step by step, so its lines
#: straddle every batch run in between (its group holds that order only).
STRADDLE_SKU = "K9"


def _on_hand_expected(events) -> dict[tuple, int]:
    first = {}
    for e in sorted(events, key=lambda e: e.received_at):
        first.setdefault(e.event_id, e)
    out: dict[tuple, int] = {}
    for key in {(e.store_id, e.sku) for e in first.values()}:
        mine = [e for e in first.values() if (e.store_id, e.sku) == key]
        counts = [e for e in mine if e.event_type.value == "stock_count"]
        last = max(counts, key=lambda e: e.occurred_at) if counts else None
        base = last.counted_quantity if last else 0
        moves = sum(
            -e.quantity
            for e in mine
            if e.event_type.value == "sale" and (last is None or e.occurred_at > last.occurred_at)
        )
        out[key] = base + moves
    return out


def _on_hand_actual(settings) -> dict[tuple, int]:
    rows = clients.bigquery_client(settings).query_and_wait(
        "SELECT store_id, sku, on_hand FROM serving.inventory_on_hand"
    )
    return {(r["store_id"], r["sku"]): r["on_hand"] for r in rows}


@hsettings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEP, min_size=4, max_size=7), seed=st.integers(0, 1000))
# Always once: sales around local midnight on both sides of a batch run and redelivered.
@example(steps=["midnight", "batch", "midnight", "duplicate"], seed=7)
def test_every_checkpoint_matches_recomputation(quiet_twin, steps, seed) -> None:
    _replay(quiet_twin.settings, steps, seed)


def test_an_order_whose_lines_straddle_the_cutoff_counts_once(quiet_twin) -> None:
    """Lines of one order (same day, store, SKU) on both sides of two cutoffs: one order."""
    steps = ["order_line", "batch", "order_line", "order_line", "batch", "order_line"]
    settings = quiet_twin.settings
    _replay(settings, steps, seed=7)
    rows = clients.bigquery_client(settings).query_and_wait(
        "SELECT SUM(orders) AS orders, SUM(sale_lines) AS lines FROM serving.sales_daily "
        f"WHERE sku = '{STRADDLE_SKU}'"
    )
    assert [(r["orders"], r["lines"]) for r in rows] == [(1, 4)]


def _replay(settings, steps: list[str], seed: int) -> None:
    """Play ``steps``, comparing serving with the recomputation after each one."""
    h.reset(settings)
    base = datetime.now(UTC) - timedelta(hours=3)
    clock = iter(base + timedelta(minutes=5 * i) for i in range(100))
    accepted = []
    order = seed * 100
    straddling = seed * 100 + 99  # the multi-line order; `new` steps never reach this id
    lines = 0
    for n, step in enumerate(steps):
        received = next(clock)
        if step == "new" or (step in {"duplicate", "reupload"} and not accepted):
            batch = [h.sale(order + i, received, sku=f"K{i % 2}", qty=1 + i % 3) for i in range(4)]
            order += 4
        elif step == "duplicate":  # POS retry / redelivery of the newest events
            batch = [e.model_copy(update={"received_at": received}) for e in accepted[-3:]]
        elif step == "midnight":  # 23:30 and 00:30 São Paulo: either side of the local day
            batch = [
                h.sale(order, received, sku="K0", day=25, hour=2),
                h.sale(order + 1, received, sku="K1", day=25, hour=3),
            ]
            order += 2
        elif step == "late":  # a sale from days ago, received now
            batch = [h.sale(order, received, sku="K0", day=20)]
            order += 1
        elif step == "reupload":  # the end-of-day spreadsheet again
            batch = [e.model_copy(update={"received_at": received}) for e in accepted[:4]]
        elif step == "order_line":  # the next line of the one order that straddles runs
            lines += 1
            batch = [h.sale(straddling, received, sku=STRADDLE_SKU, line=lines)]
        elif step == "count":
            at = received - timedelta(minutes=1)
            batch = [h.count("S1", "K1", 50 + n, at, received)]
        else:
            # The cutoff lands just after the newest receipt so far: everything received
            # before it is already archived (what archive_lag promises), and every later
            # step is received after it. A fixed 2-minute lag put the cutoff hours after
            # this past-dated clock, so steps after a run fell before the cutoff yet
            # outside the batch: a history the real system cannot produce.
            newest = max((e.received_at for e in accepted), default=received)
            run_batch(settings, archive_lag=datetime.now(UTC) - newest - timedelta(seconds=1))
            batch = []
        if batch:
            h.archive(settings, batch, f"step{n}")
            h.land_speed(settings, batch)
            accepted += batch
        assert h.sales_daily_actual(settings) == h.sales_daily_expected(accepted), steps[: n + 1]
        assert _on_hand_actual(settings) == _on_hand_expected(accepted), steps[: n + 1]
