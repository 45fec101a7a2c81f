"""The data generator: determinism, realism of the simulation, and its canonical shape."""

from __future__ import annotations

import hashlib
import random
import zipfile
from datetime import UTC, date, timedelta
from pathlib import Path

import pytest

from salesphere.identity import natural_key
from salesphere.model import finalize
from salesphere_tools.generate import GeneratorConfig, generate
from salesphere_tools.generate.calendar import black_friday
from salesphere_tools.generate.events import SimEvent, to_draft
from salesphere_tools.generate.formats import br_date, br_money
from salesphere_tools.generate.simulate import Simulation


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _small(out: Path, seed: int = 5, **kw: object) -> GeneratorConfig:
    return GeneratorConfig(
        out=out,
        days=3,
        stores=3,
        skus=40,
        seed=seed,
        tickets_per_store_day=120,
        web_orders_per_day=80,
        defect_rate=0.03,
        **kw,
    )  # type: ignore[arg-type]


def test_same_seed_writes_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    generate(_small(tmp_path / "a"))
    generate(_small(tmp_path / "b"))
    generate(_small(tmp_path / "c", seed=6))
    first, second, other = (_hashes(tmp_path / n) for n in "abc")
    assert any(name.endswith(".xlsx") for name in first), "the Excel store must be covered"
    assert first == second
    assert first.keys() & other.keys()
    assert first != other
    differing = [n for n in first.keys() & other.keys() if first[n] != other[n]]
    assert len(differing) > len(first) // 2


def test_xlsx_metadata_and_zip_dates_are_fixed(tmp_path: Path) -> None:
    generate(_small(tmp_path))
    workbooks = sorted(tmp_path.rglob("*.xlsx"))
    assert workbooks
    with zipfile.ZipFile(workbooks[0]) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2026, 1, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode()
    assert "2026-01-01T00:00:00Z" in core


def test_rerun_into_previous_output_replaces_it_and_refuses_foreign_folders(
    tmp_path: Path,
) -> None:
    out = tmp_path / "data"
    generate(_small(out))
    stale = out / "live" / "pos" / "1999-01-01"
    stale.mkdir(parents=True)
    generate(_small(out))
    assert not stale.exists()
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(ValueError, match="choose an empty or new directory"):
        generate(_small(foreign))
    assert (foreign / "cat.jpg").exists()


def _replay(events: list[SimEvent], sim: Simulation) -> tuple[int, int]:
    """Book stock per store/SKU from counts and movements, in time order.

    Returns (sales checked, oversold sales seen). Fails if a sale that is not an
    injected oversell takes the book below zero, or a count finds more than the books
    say (shrinkage only ever removes units).
    """
    rank = {"stock_count": 0, "stock_receipt": 1, "transfer_in": 3, "return": 4}
    ordered = sorted(
        events, key=lambda e: (e.utc_seconds(sim.stores), e.store, rank.get(e.kind, 5))
    )
    book: dict[tuple[int, int], int] = {}
    tainted: set[tuple[int, int]] = set()
    checked = oversold = 0
    for event in ordered:
        key = (event.store, event.sku)
        if event.kind == "stock_count":
            if key in book and key not in tainted:
                assert event.counted is not None and event.counted <= book[key]
            book[key] = event.counted or 0
            tainted.discard(key)
            continue
        assert key in book, "day one counts every SKU, so every movement has a baseline"
        if event.kind in ("stock_receipt", "transfer_in", "return"):
            book[key] += event.qty
            continue
        book[key] -= event.qty
        if event.oversell:
            oversold += 1
            tainted.add(key)
        elif key not in tainted:
            assert book[key] >= 0, f"{event.kind} {event.order_id or event.doc} oversold"
            checked += event.kind == "sale"
    return checked, oversold


@pytest.mark.parametrize("defects", [False, True])
def test_sales_never_exceed_stock_on_hand_unless_an_oversell_is_injected(
    tmp_path: Path, defects: bool
) -> None:
    # Around Black Friday, with few SKUs and long lead times, shelves do run empty.
    config = GeneratorConfig(
        out=tmp_path,
        days=10,
        stores=3,
        skus=24,
        seed=3,
        start=black_friday(2026) - timedelta(days=4),
        tickets_per_store_day=150,
        web_orders_per_day=100,
        defects=defects,
    )
    sim = Simulation(config)
    events: list[SimEvent] = []
    lost = 0
    for day in sim.days():
        events.extend(day.events)
        lost += day.lost_lines
    checked, oversold = _replay(events, sim)
    assert checked > 5_000
    assert lost > 0, "demand must sometimes meet an empty shelf"
    kinds = {e.kind for e in events}
    assert kinds >= {"sale", "return", "stock_receipt", "stock_count", "stock_adjustment"}
    assert (oversold > 0) is defects


def test_weekends_are_busier_than_weekdays(tmp_path: Path) -> None:
    config = GeneratorConfig(
        out=tmp_path,
        days=14,
        stores=4,
        skus=60,
        seed=9,
        start=date(2026, 10, 5),
        tickets_per_store_day=150,
    )
    sim = Simulation(config)
    weekend: list[int] = []
    weekday: list[int] = []
    for day in sim.days():
        lines = sum(1 for e in day.events if e.kind == "sale")
        (weekend if day.plan.day.weekday() >= 5 else weekday).append(lines)
    assert sum(weekend) / len(weekend) > 1.2 * sum(weekday) / len(weekday)


def test_black_friday_is_the_fourth_friday_of_november() -> None:
    assert black_friday(2026) == date(2026, 11, 27)
    assert black_friday(2025) == date(2025, 11, 28)


def test_every_simulated_event_has_its_own_identity_and_a_sample_finalizes(
    tmp_path: Path,
) -> None:
    config = _small(tmp_path, seed=21)
    sim = Simulation(config)
    events = [event for day in sim.days() for event in day.events]
    drafts = [to_draft(e, config.start, sim.stores, sim.products) for e in events]
    keys = {
        natural_key(
            **{
                k: d.get(k)
                for k in (
                    "event_type",
                    "store_id",
                    "sku",
                    "occurred_at",
                    "order_id",
                    "line_number",
                    "source_ref",
                    "counterpart_store_id",
                )
            }
        )
        for d in drafts
    }
    assert len(keys) == len(drafts), "two simulated facts would collapse into one event_id"
    rng = random.Random(0)
    sample = (
        rng.sample(drafts, 400)
        + [
            d
            for d in drafts
            if d["event_type"] in ("return", "transfer_out", "transfer_in", "stock_adjustment")
        ][:100]
    )
    for draft in sample:
        event = finalize(draft, received_at=draft["occurred_at"] + timedelta(minutes=5))
        assert event.occurred_at.tzinfo is UTC or event.occurred_at.utcoffset() == timedelta(0)
        assert event.sku == draft["sku"] and event.quantity == draft["quantity"]


def test_brazilian_formats() -> None:
    assert br_money(123456) == "1.234,56"
    assert br_money(1990) == "19,90"
    assert br_money(5) == "0,05"
    assert br_money(123456789) == "1.234.567,89"
    assert br_money(-123456) == "-1.234,56"
    assert br_date(date(2026, 12, 31)) == "31/12/2026"


def test_config_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--days must be at least 1"):
        generate(GeneratorConfig(out=tmp_path, days=0))
    with pytest.raises(ValueError, match="--skus"):
        generate(GeneratorConfig(out=tmp_path, skus=3))


def test_cli_writes_a_data_set_and_explains_a_bad_folder(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from salesphere_tools.cli.main import app

    runner = CliRunner()
    out = tmp_path / "data"
    args = ["generate", "--out", str(out), "--days", "1", "--stores", "2", "--skus", "20"]
    result = runner.invoke(app, [*args, "--seed", "4", "--start", "2026-11-02"])
    assert result.exit_code == 0, result.output
    assert "distinct events" in result.output
    assert (out / "manifest.json").exists()
    assert sorted(p.name for p in (out / "spreadsheets" / "2026-11-02").iterdir()) == [
        "vendas_RJ01_2026-11-02.xlsx",
        "vendas_SP01_2026-11-02.csv",
    ]
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    result = runner.invoke(app, ["generate", "--out", str(tmp_path / "notes")])
    assert result.exit_code == 2
    assert "choose an empty or new directory" in " ".join(result.output.split())
    result = runner.invoke(app, [*args, "--start", "01/11/2026"])
    assert result.exit_code != 0
    assert "YYYY-MM-DD" in " ".join(result.output.split())


def test_fast_pos_json_matches_json_dumps() -> None:
    import json

    from salesphere_tools.generate.formats import _json_line

    record = {
        "terminal": "SP01-T2",
        "store": "SP01",
        "ticket": "SP01-20261101-000123",
        "line": 1,
        "type": "sale",
        "sku": "ELE-10001",
        "qty": 2,
        "unit_price": "19.90",
        "discount": "0.00",
        "ts": "2026-11-01T14:03:27-03:00",
    }
    assert _json_line(record) == json.dumps(record)
    broken = {**record, "unit_price": "12,3,4", "qty": -2}
    assert json.loads(_json_line(broken)) == broken
