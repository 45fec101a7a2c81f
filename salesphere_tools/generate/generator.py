"""``generate(config)``: run the simulation and write every source's files plus the manifest.

Days are simulated and written one at a time, so memory stays flat however many days
are asked for; only late records and pending returns are carried between days.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from salesphere_tools.generate.config import GeneratorConfig
from salesphere_tools.generate.defects import DefectPlanner
from salesphere_tools.generate.events import SOURCE_ECOMMERCE, SOURCE_POS, SimEvent
from salesphere_tools.generate.fiscal import FiscalWriter
from salesphere_tools.generate.formats import utc_text
from salesphere_tools.generate.inventory import InventoryWriter
from salesphere_tools.generate.live import (
    EcommerceCorrupter,
    LiveWriter,
    PosCorrupter,
    ecommerce_records,
    pos_records,
)
from salesphere_tools.generate.manifest import Manifest, daily_totals, end_of_day_stock
from salesphere_tools.generate.ordering import summary as ordering_summary
from salesphere_tools.generate.ordering import write_erp_orders
from salesphere_tools.generate.reference_files import write_reference
from salesphere_tools.generate.simulate import DayResult, Simulation
from salesphere_tools.generate.spreadsheets import SpreadsheetWriter, store_rows
from salesphere_tools.generate.totals import SalesTotals

MONEY_KINDS = frozenset({"sale", "return"})
OUTPUT_ENTRIES = (
    "live",
    "spreadsheets",
    "inventory",
    "reference",
    "fiscal",
    "purchase_orders",
    "manifest.json",
)
Progress = Callable[[int, int], None]


def prepare_output(out: Path) -> None:
    """Make ``out`` an empty place to write, without ever deleting someone else's files."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; pass a directory for --out")
    if out.is_dir() and any(out.iterdir()):
        if not (out / "manifest.json").exists():
            raise ValueError(
                f"{out} is not empty and holds no generator output (no manifest.json); "
                "choose an empty or new directory for --out"
            )
        for name in OUTPUT_ENTRIES:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)


def config_summary(config: GeneratorConfig) -> dict[str, object]:
    """The config as recorded in the manifest (not the output path: it must not change bytes)."""
    return {
        "seed": config.seed,
        "start": config.start.isoformat(),
        "days": config.days,
        "stores": config.stores,
        "skus": config.skus,
        "defects": config.defects,
        "defect_rate": config.defect_rate,
        "tickets_per_store_day": config.tickets_per_store_day,
        "web_orders_per_day": config.web_orders_per_day,
        "batch_size": config.batch_size,
        "xlsx": config.xlsx,
        **({"fiscal_days": config.fiscal_days} if config.fiscal else {}),
        **({"history_days": config.history_days} if config.history_days else {}),
    }


@dataclass(slots=True)
class _Writers:
    """The writers one run feeds day by day, one per source (fiscal only when asked for)."""

    planner: DefectPlanner
    pos: LiveWriter
    web: LiveWriter
    sheets: SpreadsheetWriter
    inventory: InventoryWriter
    fiscal: FiscalWriter | None


@dataclass(slots=True)
class _Tally:
    """What the run adds up across days, for the manifest's ``expected`` and ``simulation``."""

    totals: dict[tuple[int, int, int], SalesTotals] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)
    sent: list[SimEvent] = field(default_factory=list)
    lost: int = 0
    shrinkage: int = 0
    oversells: int = 0
    spreadsheet_rows: int = 0

    def count_sent(self, events: list[SimEvent]) -> None:
        """Every event the books keep: the per-type counts and the end-of-day stock use them."""
        self.sent.extend(events)
        for event in events:
            self.by_type[event.kind] = self.by_type.get(event.kind, 0) + 1

    def absorb(self, result: DayResult) -> None:
        """The simulation's own sums and counters of one day."""
        for key, values in result.totals.items():
            self.totals.setdefault(key, SalesTotals()).add(values)
        self.lost += result.lost_lines
        self.shrinkage += result.shrinkage_units
        self.oversells += result.oversells


@dataclass(slots=True)
class _DaySplit:
    """One day's events the file writers send, by where they go."""

    #: Sales and returns, one list per store index.
    money: list[list[SimEvent]]
    #: Stock movements, for the inventory export.
    stock: list[SimEvent]


def generate(config: GeneratorConfig, progress: Progress | None = None) -> Manifest:
    """Simulate ``config.days`` days and write all source files and ``manifest.json``."""
    config.check()
    prepare_output(config.out)
    sim = Simulation(config)
    run = _Run(config, sim, _open_writers(config, sim), Manifest(config=config_summary(config)))
    run.write_references()
    for result in sim.days():
        run.write_day(result)
        if progress is not None:
            progress(result.day + 1, config.days)
    run.write_orders()
    run.close_manifest()
    run.manifest.write(config.out / "manifest.json")
    return run.manifest


def _open_writers(config: GeneratorConfig, sim: Simulation) -> _Writers:
    """One writer per source, all sharing the defect planner so defects are planned once."""
    stores, products, start = sim.stores, sim.products, config.start
    planner = DefectPlanner(config.seed, config.defect_rate, config.defects)
    return _Writers(
        planner=planner,
        pos=LiveWriter(
            config.out,
            SOURCE_POS,
            config.batch_size,
            planner,
            start,
            config.days,
            PosCorrupter(start, stores),
        ),
        web=LiveWriter(
            config.out,
            SOURCE_ECOMMERCE,
            config.batch_size,
            planner,
            start,
            config.days,
            EcommerceCorrupter(start),
        ),
        sheets=SpreadsheetWriter(config.out, planner, start, config.xlsx),
        inventory=InventoryWriter(config.out, planner, start, config.days, stores, products),
        fiscal=(
            FiscalWriter(config.out, start, config.days, stores, products, config.fiscal_days)
            if config.fiscal
            else None
        ),
    )


def _split_day(events: list[SimEvent], store_count: int) -> _DaySplit:
    """Sales and returns per store (for live JSON and spreadsheets), the rest as stock."""
    split = _DaySplit(money=[[] for _ in range(store_count)], stock=[])
    for event in events:
        if event.kind in MONEY_KINDS:
            split.money[event.store].append(event)
        else:
            split.stock.append(event)
    return split


@dataclass(slots=True)
class _Run:
    """One generator run: the simulation, its writers, the manifest they fill and the tally
    the manifest's totals come from. Its steps run in order; the files land in that order."""

    config: GeneratorConfig
    sim: Simulation
    writers: _Writers
    manifest: Manifest
    tally: _Tally = field(default_factory=_Tally)

    def write_references(self) -> None:
        """The reference files (catalogue, stores, and the fiscal ones when asked for),
        stamped with the first day so they are loaded before any event that names them."""
        start = self.config.start
        sent_at, day = utc_text(start, 0), start.isoformat()
        self.manifest.files.extend(
            write_reference(self.config.out, self.sim.products, self.sim.stores, sent_at, day)
        )
        if self.writers.fiscal is not None:
            self.manifest.files.extend(self.writers.fiscal.write_reference(sent_at, day))

    def write_day(self, result: DayResult) -> None:
        """Send one simulated day through every source: fiscal XML first (it takes the events
        it sends), then the live JSON, the spreadsheets and the inventory export."""
        day_events, nfce_day = self._take_fiscal(result)
        self.tally.count_sent(result.events)
        split = _split_day(day_events, len(self.sim.stores))
        held = self._write_live(result.day, split)
        fiscal = self.writers.fiscal
        skip = fiscal.store if nfce_day and fiscal is not None else None
        self._write_spreadsheets(result.day, split, held, skip)
        self.manifest.files.append(self.writers.inventory.write_day(result.day, split.stock))
        self.tally.absorb(result)

    def _take_fiscal(self, result: DayResult) -> tuple[list[SimEvent], bool]:
        """The day's events the other writers still send, and whether the fiscal store's
        tickets went out as NFC-e; ``result.events`` loses the cancelled tickets."""
        fiscal = self.writers.fiscal
        if fiscal is None:
            return result.events, False
        taken = fiscal.take_day(result.day, result.events, result.totals)
        self.manifest.files.extend(taken.files)
        # The books keep what counts (a cancelled ticket does not); the JSON and
        # spreadsheet writers skip what went out as fiscal XML.
        day_events = [e for i, e in enumerate(result.events) if i not in taken.sent]
        result.events = [e for i, e in enumerate(result.events) if i not in taken.cancelled]
        return day_events, taken.nfce_day

    def _write_live(self, day: int, split: _DaySplit) -> set[str]:
        """The day's POS and e-commerce batches; returns the POS keys held back as late,
        which the stores' spreadsheets still carry."""
        stores, products, start = self.sim.stores, self.sim.products, self.config.start
        store_money = [
            e for i, events in enumerate(split.money) if not stores[i].online for e in events
        ]
        web_money = [e for i, events in enumerate(split.money) if stores[i].online for e in events]
        pos_files, held = self.writers.pos.write_day(
            day, pos_records(store_money, stores, products, start)
        )
        web_files, _ = self.writers.web.write_day(
            day, ecommerce_records(web_money, stores, products, start)
        )
        self.manifest.files.extend(pos_files)
        self.manifest.files.extend(web_files)
        return held

    def _write_spreadsheets(
        self, day: int, split: _DaySplit, held: set[str], skip: int | None
    ) -> None:
        """Each physical store's export, but for ``skip`` (the fiscal store on a day its
        tickets went out as NFC-e)."""
        day_date = self.config.start + timedelta(days=day)
        for index, store in enumerate(self.sim.stores):
            if store.online or index == skip:
                continue
            rows = store_rows(split.money[index], store, self.sim.products, day_date, held)
            entry = self.writers.sheets.write(day, store, rows)
            if entry is not None:
                self.manifest.files.append(entry)
                self.tally.spreadsheet_rows += entry.events

    def write_orders(self) -> None:
        """One ERP export: the buyers' (every store's orders, numbered PC-<invoice> as the
        fiscal store's NF-e name them) when they ran, else the fiscal store's delivered
        orders."""
        sim, config = self.sim, self.config
        if sim.buyers is not None:
            self.manifest.files.append(
                write_erp_orders(
                    config.out,
                    sim.buyers.exported(),
                    sim.stores,
                    sim.products,
                    config.start,
                    config.days - 1,
                )
            )
        elif self.writers.fiscal is not None:
            self.manifest.files.append(self.writers.fiscal.write_orders())

    def close_manifest(self) -> None:
        """The defects injected, what a correct platform must end up with, and the
        simulation's own notes (stock-outs, shrinkage, oversells, fiscal and ordering)."""
        sim, tally, planner = self.sim, self.tally, self.writers.planner
        store_ids = [s.store_id for s in sim.stores]
        self.manifest.defects = planner.defects
        self.manifest.expected = _expected(planner, tally, self.config.start, store_ids) | {
            "end_of_day_stock": end_of_day_stock(
                tally.sent, self.config.start, store_ids, [p.sku for p in sim.products]
            )
        }
        fiscal = self.writers.fiscal
        self.manifest.simulation = {
            "lost_sale_lines_stockout": tally.lost,
            "hidden_shrinkage_units": tally.shrinkage,
            "oversold_lines": tally.oversells,
            "stores": store_ids,
            "skus": len(sim.products),
            **({"fiscal": fiscal.summary()} if fiscal is not None else {}),
            **(
                {"ordering": ordering_summary(sim.buyers, self.config.days - 1)}
                if sim.buyers is not None
                else {}
            ),
        }


def _expected(
    planner: DefectPlanner, tally: _Tally, start: date, store_ids: list[str]
) -> dict[str, object]:
    """What a correct platform must end up with, from the simulation's own bookkeeping."""
    by_type = tally.by_type
    malformed = [d for d in planner.defects if d.kind == "malformed"]
    rejected_sheet_rows = sum(1 for d in malformed if d.source == "spreadsheet")
    duplicates = sum(d.events for d in planner.defects if d.kind == "duplicate")
    return {
        "accepted_events": sum(by_type.values()),
        "events_by_type": dict(sorted(by_type.items())),
        "rejected_events": sum(d.events for d in malformed),
        "duplicate_events": duplicates + tally.spreadsheet_rows - rejected_sheet_rows,
        "notes": (
            "accepted_events counts distinct event_ids; duplicate_events are records whose "
            "event_id was already sent (retries, overlapping exports, spreadsheet rows that "
            "repeat live sales); net_revenue = gross - discounts - returns_amount; daily_local "
            "groups by the store's local date, daily_utc by the UTC date of occurred_at"
        ),
        **daily_totals(tally.totals, start, store_ids),
    }
