"""The buyers over the history: seeded, in whole cases, on their suppliers' cadence."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from salesphere_tools.generate import GeneratorConfig, generate
from salesphere_tools.generate.catalog import build_products, build_stores
from salesphere_tools.generate.history import daily_history
from salesphere_tools.generate.manifest import Manifest
from salesphere_tools.generate.ordering import (
    ERP_EXPORT,
    LATE_DAYS,
    TRAILING_DAYS,
    WARMUP_DAYS,
    Buyers,
    Terms,
    continued_history,
    opening,
    run_warmup,
)
from salesphere_tools.generate.ordering import summary as ordering_summary

LIVE = date(2026, 9, 14)  # a plain Monday: no Black Friday in the live days


def _world(seed: int = 7, stores: int = 2, skus: int = 60, days: int = 400):
    history = daily_history(
        stores=stores, skus=skus, days=days, seed=seed, start=LIVE - timedelta(days=days)
    )
    rng = random.Random(f"salesphere:{seed}:simulation")
    store_specs = build_stores(stores, rng)
    products = build_products(skus, rng, 350)
    return history, store_specs, products


@pytest.fixture(scope="module")
def world():
    history, stores, products = _world()
    buyers, start = opening(history.demand, products, len(stores), LIVE, seed=7)
    return history, stores, products, buyers, start


def test_same_seed_same_orders_and_another_seed_others(world) -> None:
    history, stores, products, buyers, start = world
    again, start_again = opening(history.demand, products, len(stores), LIVE, seed=7)
    assert again.lines == buyers.lines
    assert (start_again.stock == start.stock).all()
    other, _ = opening(history.demand, products, len(stores), LIVE, seed=8)
    assert other.lines != buyers.lines


def test_every_line_is_whole_cases_and_at_least_the_minimum(world) -> None:
    _, _, products, buyers, _ = world
    assert buyers.lines
    for line in buyers.lines:
        terms = Terms.of(products[line.sku])
        assert line.pack == terms.pack
        assert line.units % terms.pack == 0
        assert line.units >= max(terms.min_order, terms.pack)
    assert any(line.units > line.pack > 1 for line in buyers.lines)  # several cases


def test_deliveries_come_after_the_lead_time_and_a_small_share_late(world) -> None:
    _, _, products, buyers, _ = world
    late = 0
    for line in buyers.lines:
        assert line.due_day - line.ordered_day == Terms.of(products[line.sku]).lead_days
        delay = line.arrival_day - line.due_day
        assert delay == 0 or LATE_DAYS[0] <= delay <= LATE_DAYS[1]
        late += line.late
    assert 0.02 < late / len(buyers.lines) < 0.2
    # a late delivery is late as a whole: every line of an order arrives together
    arrivals = defaultdict(set)
    for line in buyers.lines:
        arrivals[line.order].add(line.arrival_day)
    assert all(len(days) == 1 for days in arrivals.values())


def test_one_order_per_store_and_supplier_per_review_on_the_suppliers_cadence(world) -> None:
    _, _, products, buyers, _ = world
    orders = defaultdict(list)
    for line in buyers.lines:
        orders[line.order].append(line)
    reviews = defaultdict(set)
    for number, lines in orders.items():
        assert [line.line for line in lines] == list(range(1, len(lines) + 1)), number
        keys = {(line.store, products[line.sku].supplier, line.ordered_day) for line in lines}
        assert len(keys) == 1
        store, supplier, day = keys.pop()
        reviews[(store, supplier)].add(day)
    assert len({(s, d) for (s, _), days in reviews.items() for d in days}) < len(orders)
    for (_, supplier), days in reviews.items():
        period = Terms.of(next(p for p in products if p.supplier == supplier)).review_days
        ordered = sorted(days)
        assert all((b - a) % period == 0 for a, b in pairwise(ordered))


def test_stock_never_negative_and_sales_never_exceed_demand() -> None:
    history, stores, products = _world(seed=3)
    buyers = Buyers([Terms.of(p) for p in products], len(stores), LIVE.toordinal(), seed=3)
    stock, sales = run_warmup(buyers, history.demand)
    assert (stock >= 0).all()
    assert sales.shape == (history.demand.shape[0], WARMUP_DAYS)
    assert buyers.warmup_days == WARMUP_DAYS
    assert (sales <= history.demand[:, -WARMUP_DAYS:]).all()
    # the buyers keep the shelves stocked: most demand is served
    assert sales.sum() > 0.9 * history.demand[:, -WARMUP_DAYS:].sum()


def test_a_short_history_shortens_the_warm_up_and_the_summary_says_so(world) -> None:
    history, stores, products, _, _ = world
    demand = history.demand[:, -(TRAILING_DAYS + 30) :]
    buyers, start = opening(demand, products, len(stores), LIVE, seed=7)
    assert start.sales.shape[1] == 30
    assert ordering_summary(buyers, last_day=6)["warmup_days"] == 30


def test_history_days_must_cover_the_warm_up(tmp_path: Path) -> None:
    GeneratorConfig(out=tmp_path, history_days=WARMUP_DAYS + TRAILING_DAYS).check()
    with pytest.raises(ValueError, match=f"at least {WARMUP_DAYS + TRAILING_DAYS}"):
        GeneratorConfig(out=tmp_path, history_days=WARMUP_DAYS + TRAILING_DAYS - 1).check()


def test_the_live_week_opens_with_a_minority_of_positions_to_order(world) -> None:
    _, stores, _, buyers, start = world
    # open orders in every store (the web shop's warehouse too)
    assert {line.store for line in start.open_lines} == set(range(len(stores)))
    assert all(line.arrival_day >= 0 for line in start.open_lines)
    assert all(line.ordered_day < 0 for line in start.open_lines)
    reorder, _ = buyers.levels()
    position = start.stock + buyers.on_order
    selling = buyers.demand_estimate() > 0
    assert (position[selling] <= reorder[selling]).mean() < 0.35


def _generated(tmp_path: Path, **overrides: object) -> tuple[GeneratorConfig, Manifest]:
    """A small data set whose live days follow 400 days of history and the buyers."""
    settings: dict = {
        "out": tmp_path / "data",
        "stores": 2,
        "start": LIVE,
        "defects": False,
        "xlsx": False,
        "history_days": 400,
        **overrides,
    }
    config = GeneratorConfig(**settings)
    return config, generate(config)


def test_generated_days_continue_the_buyers_stock_and_orders(tmp_path: Path) -> None:
    config, manifest = _generated(tmp_path, days=3, skus=40, seed=5)
    with (config.out / ERP_EXPORT).open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert {r["loja"] for r in rows} == {"SP01", "RJ01", "WEB"}
    assert all(r["pedido"].startswith("PC-NF-") for r in rows)
    ordering = manifest.simulation["ordering"]
    assert ordering["order_lines"] == len(rows)
    # the opening count (midnight of day one) is the buyers' stock
    history, _, products = _world(seed=5, stores=2, skus=40, days=400)
    _, start = opening(history.demand, products, 3, LIVE, seed=5)
    counts = {}
    for entry in manifest.files:
        if entry.source == "inventory" and entry.date == LIVE.isoformat():
            with (config.out / entry.path).open(encoding="utf-8") as handle:
                for record in map(json.loads, handle):
                    if record["type"] == "COUNT" and record["recorded_at"].endswith(
                        "00:00:00-03:00"
                    ):
                        counts[(record["location"], record["item"])] = record["units"]
    assert counts[("SP01", products[0].sku)] == int(start.stock[0])
    # every store's and the web shop's positions: all the stock the buyers left
    assert sum(counts.values()) == int(start.stock.sum())


def test_the_live_days_sell_what_the_history_did(tmp_path: Path) -> None:
    config, manifest = _generated(tmp_path, days=4, skus=60, seed=9)
    live = sum(int(r["units_sold"]) for r in manifest.expected["daily_local"]) / config.days
    history, _, _ = _world(seed=9, stores=2, skus=60, days=400)
    same_weekdays = history.demand[:, -28:].sum(axis=0).mean()
    assert np.isfinite(same_weekdays) and same_weekdays > 0
    assert 0.7 < live / same_weekdays < 1.3, (live, same_weekdays)


def test_the_summary_counts_the_export_and_the_late_lines(world) -> None:
    _, _, _, buyers, start = world
    summary = ordering_summary(buyers, last_day=6)
    exported = buyers.exported()
    assert summary["order_lines"] == len(exported)
    assert summary["open_lines_at_start"] == len(start.open_lines)
    assert summary["open_lines_at_start"] + summary["placed_lines_live"] == len(exported)
    assert summary["late_open_lines_at_end"] == sum(
        1 for line in exported if line.due_day <= 6 < line.arrival_day
    )


def test_the_continued_history_is_computed_once_and_each_caller_gets_its_own_buyers() -> None:
    kw = {"stores": 1, "skus": 20, "days": 200, "seed": 4, "live_start": LIVE}
    history, products, buyers, start = continued_history(**kw, tickets_per_store_day=350)
    buyers.review(0, start.stock)  # the live days go on ordering with them
    buyers.lines.append(buyers.lines[0])
    stock = start.stock.copy()
    start.stock[:] = 0
    again_history, again_products, again, again_start = continued_history(
        **kw, tickets_per_store_day=350
    )
    assert again_history is history and again_products == products
    assert again.lines == buyers.lines[: len(again.lines)] and len(again.lines) < len(buyers.lines)
    fresh_history, _, _, _ = continued_history(**kw, tickets_per_store_day=351)
    assert fresh_history is not history
    assert (again_start.stock == stock).all() and stock.sum() > 0
