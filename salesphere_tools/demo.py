"""The demo script: one readable walk through the Lambda loop on the local twin.

Each step prints what it did; the run ends with a summary a person can read. The twin is
always stopped at the end (unless ``--keep-running``), even when a step fails.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.progress import Progress
from rich.table import Table

from salesphere.model import utcnow
from salesphere.settings import Settings
from salesphere_tools.local.twin import Twin

console = Console()


@dataclass
class DemoOptions:
    days: int = 7
    stores: int = 4
    seed: int = 42
    out: Path = Path("out/demo")
    keep_running: bool = False


@dataclass
class DemoState:
    options: DemoOptions
    settings: Settings
    twin: Twin
    facts: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


Step = Callable[[DemoState], None]


def _step(title: str, fn: Step, state: DemoState) -> None:
    console.rule(f"[bold]{title}")
    start = time.perf_counter()
    fn(state)
    state.timings[title] = time.perf_counter() - start


def step_twin_up(state: DemoState) -> None:
    with console.status("starting emulators and services") as status:
        report = state.twin.up(progress=status.update)
    table = Table("component", "endpoint", "ready in")
    status_now = state.twin.status()
    for name, seconds in report.started.items():
        table.add_row(
            name, status_now.get(name, {}).get("endpoint") or "(worker)", f"{seconds:.1f} s"
        )
    console.print(table)
    state.facts["twin_start_s"] = round(report.total_seconds, 1)


def step_generate(state: DemoState) -> None:
    from salesphere_tools.generate import GeneratorConfig, generate

    opts = state.options
    # The data ends yesterday: ingest refuses events from the future, and the last day
    # plays the part of "today" arriving live while analysts watch.
    # A local day ends up to 4 h after UTC midnight (Manaus is UTC-4); the newest day must
    # be over, or its late-evening sales would be refused as coming from the future.
    start = (utcnow() - timedelta(hours=5)).date() - timedelta(days=opts.days)
    config = GeneratorConfig(
        out=opts.out / "data",
        days=opts.days,
        stores=opts.stores,
        seed=opts.seed,
        start=start,
        fiscal=True,
        history_days=HISTORY_DAYS,
    )
    with console.status("generating"):
        manifest = generate(config)
    state.facts["manifest"] = manifest
    state.facts["dates"] = sorted({f.date for f in manifest.files if f.source != "reference"})
    table = Table("source", "files", "records", "events")
    for source, row in manifest.sources().items():
        table.add_row(source, str(row["files"]), f"{row['records']:,}", f"{row['events']:,}")
    console.print(table)
    exp = manifest.expected
    ordering = manifest.simulation.get("ordering", {})
    if ordering:
        console.print(
            f"Buyers simulated over the {ordering['warmup_days']} days before the live week "
            "(reviews per supplier on its cadence, whole cases, minimum orders): "
            f"{ordering['open_lines_at_start']:,} order lines open when it starts, "
            f"{ordering['placed_lines_live']:,} placed during it, "
            f"{ordering['open_lines_at_end']:,} still open at its end, "
            f"{ordering['late_open_lines_at_end']:,} of them late "
            f"({ordering['late_share_all_lines']:.0%} of all lines came late); all in the "
            "ERP export purchase_orders/pedidos.csv."
        )
    console.print(
        f"{opts.days} days from {start} for {opts.stores} stores + the web shop in {config.out}. "
        f"Expected: {exp['accepted_events']:,} distinct events, "
        f"{exp['duplicate_events']:,} duplicates to absorb, {exp['rejected_events']:,} rejects."
    )


def step_reference(state: DemoState) -> None:
    from salesphere_tools.warehouse.reference import load_reference_files

    loaded = load_reference_files(state.settings, state.options.out / "data" / "reference")
    console.print("Loaded reference data: " + ", ".join(f"{k}: {v}" for k, v in loaded.items()))


def _files(state: DemoState, *, sources: set[str], dates: set[str]) -> list[Path]:
    manifest = state.facts["manifest"]
    root = state.options.out / "data"
    return [
        root / f.path
        for f in sorted(manifest.files, key=lambda f: (f.sent_at, f.path))
        if f.source in sources and f.date in dates
    ]


def _post_live(state: DemoState, dates: set[str], label: str) -> None:
    from salesphere_tools.ingest.send import post_batch

    files = _files(state, sources={"pos", "ecommerce"}, dates=dates)

    def post(path: Path) -> dict:
        status, body = post_batch(state.settings, path, path.parts[-3])
        if status >= 500:
            raise RuntimeError(f"ingest answered {status} for {path}: {body}")
        return body.get("summary", {})

    accepted = rejected = 0
    # A few batches at a time, as several tills send at once: under ingest's in-flight
    # limit, and each result is read (a failed POST stops the demo).
    with (
        Progress(*Progress.get_default_columns(), console=console) as bar,
        ThreadPoolExecutor(max_workers=LIVE_POSTERS) as pool,
    ):
        task = bar.add_task(label, total=len(files))
        for summary in pool.map(post, files):
            accepted += int(summary.get("accepted", 0))
            rejected += int(summary.get("rejected", 0))
            bar.advance(task)
    console.print(
        f"{len(files)} live batches posted: {accepted:,} records accepted, {rejected:,} rejected"
    )


def _count(body: dict, counts: dict[str, int], rules: dict[str, int]) -> None:
    for result in body.get("results", []):
        counts[result["status"]] = counts.get(result["status"], 0) + 1
        for error in result.get("errors", []):
            rules[error["rule"]] = rules.get(error["rule"], 0) + 1


def _post_fiscal(state: DemoState, dates: set[str], label: str) -> None:
    """The fiscal store's NFC-e and cancellations, one document per request, in send order."""
    from salesphere_tools.ingest.send import post_xml

    files = _files(state, sources={"nfce", "nfe-event"}, dates=dates)
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    rules: dict[str, int] = {}
    lock = threading.Lock()

    def post(path: Path) -> None:
        status, body = post_xml(state.settings, path)
        if status >= 500:
            raise RuntimeError(f"ingest answered {status} for {path}: {body}")
        with lock:
            _count(body, counts, rules)

    # Tickets go several at a time, as a store's tills do; each cancellation waits for
    # what was sent before it, so one still arrives before its ticket.
    with (
        Progress(*Progress.get_default_columns(), console=console) as bar,
        ThreadPoolExecutor(max_workers=FISCAL_POSTERS) as pool,
    ):
        task = bar.add_task(label, total=len(files))
        pending: list = []
        for path in files:
            if path.name.startswith("cancelamento-"):
                for future in pending:
                    future.result()
                    bar.advance(task)
                pending = []
                post(path)
                bar.advance(task)
            else:
                pending.append(pool.submit(post, path))
        for future in pending:
            future.result()
            bar.advance(task)
    console.print(
        f"{len(files)} fiscal documents posted as application/xml: {counts['accepted']:,} "
        f"accepted, {counts['duplicate']:,} duplicate, {counts['rejected']:,} refused"
        + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(rules.items()))})" if rules else "")
    )


#: Fiscal documents posted at once: under ingest's in-flight limit (4 on the twin).
FISCAL_POSTERS = 3
#: Live batches posted at once, for the same reason.
LIVE_POSTERS = 3
#: Days of daily sales imported from the old system; the live days continue them.
HISTORY_DAYS = 730

#: Landing folder per generated source dropped as files (None: guessed from the name).
DROP_FOLDERS = {
    "spreadsheet": None,
    "inventory": None,
    "nfe": "fiscal",
    "purchase_orders": "purchase_orders",
}


def _drop_files(state: DemoState, dates: set[str], label: str) -> None:
    from salesphere_tools.ingest.send import upload_files, wait_for_marker

    uploaded = []
    for source, folder in DROP_FOLDERS.items():
        files = _files(state, sources={source}, dates=dates)
        uploaded += upload_files(state.settings, files, source=folder)
    outcomes = []
    with Progress(*Progress.get_default_columns(), console=console) as bar:
        task = bar.add_task(label, total=len(uploaded))
        for item in uploaded:
            outcomes.append(wait_for_marker(state.settings, item["sha256"]))
            bar.advance(task)
    totals: dict[str, list[int]] = {}
    for item, outcome in zip(uploaded, outcomes, strict=True):
        row = totals.setdefault(item["object"].split("/", 1)[0], [0, 0, 0])
        row[0] += 1
        row[1] += int(outcome.get("accepted", 0))
        row[2] += int(outcome.get("rejected", 0))
    table = Table("source", "files", "rows accepted", "rows rejected (quarantined)")
    for source, (files_n, accepted, rejected) in sorted(totals.items()):
        table.add_row(source, str(files_n), f"{accepted:,}", f"{rejected:,}")
    console.print(table)


def _scalar(state: DemoState, sql: str) -> object:
    from salesphere.gcp import clients

    rows = clients.query_rows(state.settings, sql)
    return next(iter(rows[0].values())) if rows else None


def _wait_until_stable(count: Callable[[], int], what: str, timeout: float) -> int:
    """Poll ``count`` once a second until three readings agree (delivery has drained)."""
    deadline = time.monotonic() + timeout
    last, stable = -1, 0
    with console.status(f"waiting for {what}") as status:
        while time.monotonic() < deadline and stable < 3:
            current = count()
            status.update(f"{what}: {current:,}")
            stable = stable + 1 if current == last else 0
            last = current
            time.sleep(1.0)
    return last


#: Module constants so the BigQuery analyzer check (salesphere_tools.sqlcheck) reads them.
SPEED_EVENTS_SQL = "SELECT COUNT(DISTINCT event_id) FROM speed.events"
SINCE_CUTOFF_SQL = "SELECT COUNT(*) FROM serving.events_since_cutoff"


def _wait_for_speed_layer(state: DemoState, timeout: float = 180) -> int:
    """speed.events stops growing once the push backlog is drained."""
    return _wait_until_stable(
        lambda: int(_scalar(state, SPEED_EVENTS_SQL) or 0),
        "distinct events in speed.events",
        timeout,
    )


def step_history(state: DemoState) -> None:
    dates = state.facts["dates"]
    history = set(dates[:-1])
    _post_live(state, history, "POS and web shop batches (history)")
    _drop_files(state, set(dates[:-2]), "spreadsheets and inventory exports (history)")
    count = _wait_for_speed_layer(state)
    console.print(f"Speed layer holds {count:,} distinct events, seconds after ingest.")


def _serving_totals(state: DemoState) -> dict[str, object]:
    from salesphere.gcp import clients

    sql = (
        "SELECT d.sale_date, SUM(d.units_sold) AS units, SUM(d.net_sales) AS net "
        "FROM serving.sales_daily AS d GROUP BY d.sale_date ORDER BY d.sale_date"
    )
    rows = clients.bigquery_client(state.settings).query(sql).result()
    return {str(r.sale_date): (int(r.units), r.net) for r in rows}


def _batch(state: DemoState, title: str) -> None:
    from salesphere.batch.runner import run_batch

    with console.status(title):
        report = run_batch(state.settings, archive_lag=timedelta(seconds=0))
    console.print(
        f"batch run {report.run_id}: {report.status}, {report.events_distinct:,} distinct events "
        f"in {len(report.partitions)} partitions; cutoff {report.cutoff}"
    )
    if report.failed:
        raise RuntimeError(
            f"batch run {report.run_id}: the forecast step failed "
            f"({report.forecast.get('error') or report.forecast}); the purchase suggestion "
            "would read an old forecast. See the batch log under the twin directory."
        )


def step_first_batch(state: DemoState) -> None:
    _batch(state, "batch run: archive -> master.events -> batch views")
    state.facts["totals_after_batch"] = _serving_totals(state)


def step_today(state: DemoState) -> None:
    dates = state.facts["dates"]
    before = int(_scalar(state, SINCE_CUTOFF_SQL) or 0)
    _post_live(state, {dates[-1]}, "newest day's live batches")
    _post_fiscal(state, {dates[-1]}, "newest day's NFC-e (one store) and cancellations")
    _drop_files(state, set(dates[-2:]), "late spreadsheets and exports")
    _wait_for_speed_layer(state)
    after = int(_scalar(state, SINCE_CUTOFF_SQL) or 0)
    console.print(
        f"Served from the speed layer (after the cutoff): {before:,} -> {after:,} events; "
        "visible in the serving views without waiting for a batch run."
    )
    state.facts["totals_fresh"] = _serving_totals(state)


def step_second_batch(state: DemoState) -> None:
    _batch(state, "batch run absorbs the new events")
    fresh = state.facts["totals_fresh"]
    after = _serving_totals(state)
    state.facts["totals_final"] = after
    table = Table("day", "units (fresh)", "net (fresh)", "units (batch)", "net (batch)", "same?")
    for day in sorted(after):
        f_units, f_net = fresh.get(day, (0, 0))
        units, net = after[day]
        same = "[green]yes[/green]" if (f_units, f_net) == (units, net) else "[red]no[/red]"
        table.add_row(day, f"{f_units:,}", f"{f_net:,.2f}", f"{units:,}", f"{net:,.2f}", same)
    console.print("Serving totals before and after the batch absorbed the speed layer:")
    console.print(table)


def step_check_against_generator(state: DemoState) -> None:
    """The platform's totals against the generator's own bookkeeping (independent).

    Both sides are per local business day (the store's clock): the generator's
    ``daily_local`` and serving.sales_daily's ``sale_date``. A day served that the books do
    not have (e.g. a UTC "day after" holding late-evening sales) is a mismatch too.
    """
    expected = {row["date"]: row for row in state.facts["manifest"].expected["daily_local"]}
    final = state.facts["totals_final"]
    table = Table("day", "expected net", "served net", "match")
    mismatches = 0
    for day in sorted(set(final) - set(expected)):
        mismatches += 1
        table.add_row(day, "(no such business day)", f"{final[day][1]}", "[red]✗[/red]")
    for day, row in sorted(expected.items()):
        served = final.get(day, (0, 0))[1]
        ok = str(served) == str(row["net_revenue"]) or float(served) == float(row["net_revenue"])
        mismatches += not ok
        table.add_row(
            day, row["net_revenue"], f"{served}", "[green]✓[/green]" if ok else "[red]✗[/red]"
        )
    console.print(table)
    state.facts["generator_mismatches"] = mismatches
    if mismatches:
        raise RuntimeError(f"{mismatches} day(s) differ from the generator's expected totals")
    _check_stock_against_generator(state)


def _check_stock_against_generator(state: DemoState) -> None:
    """serving.inventory_on_hand against the books' closing stock of the last day.

    The books apply the platform's stock rule (latest count plus later movements) to the
    events the generator sent, so every store x SKU must agree exactly; a difference means
    a movement was lost, doubled or signed the wrong way somewhere between ingest and serving.
    """
    from salesphere.gcp import clients

    books = state.facts["manifest"].expected.get("end_of_day_stock", [])
    last = max((row["date"] for row in books), default=None)
    expected = {(r["store_id"], r["sku"]): r["on_hand"] for r in books if r["date"] == last}
    rows = (
        clients.bigquery_client(state.settings)
        .query("SELECT store_id, sku, on_hand FROM serving.inventory_on_hand")
        .result()
    )
    served = {(r.store_id, r.sku): int(r.on_hand) for r in rows}
    wrong = sorted(k for k in expected.keys() | served.keys() if expected.get(k) != served.get(k))
    table = Table("positions", "expected units", "served units", "differ", "match")
    table.add_row(
        f"{len(expected):,}",
        f"{sum(expected.values()):,}",
        f"{sum(served.values()):,}",
        f"{len(wrong):,}",
        "[red]✗[/red]" if wrong else "[green]✓[/green]",
    )
    console.print(f"Stock on hand per store x SKU at the end of {last} vs. the generator's books:")
    console.print(table)
    state.facts["stock_mismatches"] = len(wrong)
    if wrong:
        sample = ", ".join(
            f"{s}/{k}: {expected.get((s, k))} vs {served.get((s, k))}" for s, k in wrong[:5]
        )
        raise RuntimeError(f"{len(wrong)} store x SKU positions differ from the books: {sample}")


#: Module constants so the BigQuery analyzer check (salesphere_tools.sqlcheck) reads them.
ORDER_STATUS_SQL = (
    "SELECT o.status, COUNT(*) AS lines, SUM(o.ordered_units) AS ordered, "
    "SUM(o.received_units) AS received, SUM(o.open_units) AS open_units "
    "FROM serving.open_purchase_orders AS o GROUP BY o.status ORDER BY o.status"
)
OPEN_ORDERS_SQL = (
    "SELECT o.order_number, o.store_id, o.sku, o.open_units, o.expected_delivery, o.days_late, "
    "o.status, r.on_order, r.suggested_order_quantity "
    "FROM serving.open_purchase_orders AS o LEFT JOIN serving.replenishment AS r "
    "ON o.store_id = r.store_id AND o.sku = r.sku WHERE o.open_units > 0 "
    "ORDER BY o.days_late DESC, o.order_number"
)
FISCAL_DAY_SQL = (
    "SELECT d.sale_date, SUM(d.units_sold) AS units, SUM(d.net_sales) AS net, "
    "SUM(d.orders) AS orders FROM serving.sales_daily AS d "
    "WHERE d.store_id = @store GROUP BY d.sale_date ORDER BY d.sale_date DESC LIMIT 1"
)


def _fiscal_and_order_rows(settings: Settings, store: str) -> tuple[dict, list, list]:
    """The store's newest served day, order lines by status, and the open lines."""
    from google.cloud import bigquery

    from salesphere.gcp import clients

    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("store", "STRING", store)]
    )
    day = [
        dict(r.items())
        for r in clients.bigquery_client(settings).query_and_wait(FISCAL_DAY_SQL, job_config=config)
    ]
    return (
        day[0] if day else {},
        clients.query_rows(settings, ORDER_STATUS_SQL),
        clients.query_rows(settings, OPEN_ORDERS_SQL),
    )


#: Late purchase order lines the demo lists (the rest are counted).
LATE_LINES_SHOWN = 8


def step_fiscal_and_orders(state: DemoState) -> None:
    """The fiscal store's day from NFC-e against the books; orders in transit and late."""
    fiscal = state.facts["manifest"].simulation["fiscal"]
    store = fiscal["store_id"]
    served, statuses, open_lines = _fiscal_and_order_rows(state.settings, store)
    books = next(
        r
        for r in state.facts["manifest"].expected["daily_by_store"]
        if r["store_id"] == store and r["date"] == str(served["sale_date"])
    )
    ok = (
        float(served["net"]) == float(books["net_revenue"])
        and served["units"] == books["units_sold"]
    )
    first = sum(1 for c in fiscal["cancelled_tickets"] if c["cancelled_first"])
    console.print(
        f"{store} on {served['sale_date']}, from NFC-e only: {served['units']:,} units, "
        f"{served['orders']:,} tickets, net {served['net']:,.2f}; the books say "
        f"{books['units_sold']:,} units, net {books['net_revenue']} "
        + ("[green]✓[/green]" if ok else "[red]✗[/red]")
        + f" ({len(fiscal['cancelled_tickets'])} tickets cancelled, {first} of them before "
        "the ticket arrived: neither counts)"
    )
    if not ok:
        raise RuntimeError(f"{store}'s fiscal day differs from the books")
    table = Table("status", "lines", "ordered", "received", "open")
    for row in statuses:
        table.add_row(
            str(row["status"]),
            f"{row['lines']:,}",
            f"{row['ordered']:,}",
            f"{row['received']:,}",
            f"{row['open_units']:,}",
        )
    console.print("Purchase order lines (ERP export + suppliers' NF-e receipts):")
    console.print(table)
    table = Table("order", "store", "SKU", "open", "due", "days late", "suggest")
    late_lines = [row for row in open_lines if row["status"] == "late"]
    late = len(late_lines)
    for row in late_lines[:LATE_LINES_SHOWN]:
        table.add_row(
            str(row["order_number"]),
            str(row["store_id"]),
            str(row["sku"]),
            f"{row['open_units']:,}",
            str(row["expected_delivery"]),
            ("[red]" if row["days_late"] else "") + str(row["days_late"]),
            str(row["suggested_order_quantity"]),
        )
    stores = sorted({str(row["store_id"]) for row in open_lines})
    console.print(
        f"In transit: {len(open_lines):,} open lines in {len(stores)} stores "
        f"({', '.join(stores)}), {late:,} of them late; the open units are on order in "
        "serving.replenishment, so the suggestion does not ask for them again. "
        + (f"The {min(late, LATE_LINES_SHOWN)} latest:" if late else "")
    )
    console.print(table)
    state.facts["late_orders"] = late
    if not late:
        raise RuntimeError("no purchase order line is flagged late; the buyers' late ones are")


def step_reconcile(state: DemoState) -> None:
    from salesphere_tools.reconcile import reconcile

    result = reconcile(state.settings)
    table = Table("source", "received", "accepted", "rejected", "events", "adds up")
    for row in result.facts.get("sources", []):
        ok = row["received"] == row["accepted"] + row["rejected"]
        table.add_row(
            row["source"],
            f"{row['received']:,}",
            f"{row['accepted']:,}",
            f"{row['rejected']:,}",
            f"{row.get('events') or 0:,}",
            "[green]✓[/green]" if ok else "[red]✗[/red]",
        )
    console.print(table)
    layers = result.facts.get("layers", [{}])[0]
    console.print(
        "Layers: "
        + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in layers.items() if isinstance(v, int))
    )
    days = result.facts.get("archive_days")
    if days:
        console.print(
            f"Local business days recomputed in Python from the raw archive files: "
            f"{days['store_days']:,} store-days, {days['differ']:,} differ from "
            f"serving.sales_daily "
            + ("[green]✓[/green]" if days["complete"] and not days["differ"] else "[red]✗[/red]")
            + ("" if days["complete"] else " (archive still behind serving; run again)")
        )
    for finding in result.findings:
        console.print(
            f"[red]MISMATCH[/red] {finding.check}: expected {finding.expected}, got {finding.actual}"
        )
    console.print("[green]reconcile: OK[/green]" if result.ok else "[red]reconcile: FAILED[/red]")
    if not result.ok:
        raise RuntimeError("reconciliation failed")


# -- the demand forecast (one step, after the batch runs that made it) -------------------

#: Module constant so the BigQuery analyzer check (salesphere_tools.sqlcheck) reads it.
FORECAST_SUMMARY_SQL = (
    "SELECT f.model, COUNT(DISTINCT CONCAT(f.store_id, '|', f.sku)) AS series, "
    "SUM(f.units) AS units, MIN(f.origin_date) AS origin, MAX(f.forecast_date) AS last_day "
    "FROM batch.demand_forecast AS f GROUP BY f.model ORDER BY series DESC"
)


def _forecast_summary(state: DemoState) -> list[dict[str, object]]:
    from salesphere.gcp import clients

    return clients.query_rows(state.settings, FORECAST_SUMMARY_SQL)


def step_forecast(state: DemoState) -> None:
    """What the batch runs forecast, and why a week of history says little yet."""
    rows = _forecast_summary(state)
    if not rows:
        raise RuntimeError(
            "batch.demand_forecast is empty after the batch runs: the forecast step made "
            "nothing, so the purchase suggestion would fall back to averages"
        )
    table = Table("model", "series", "units forecast (56 days)", "actuals up to", "until")
    for row in rows:
        table.add_row(
            str(row["model"]),
            f"{row['series']:,}",
            f"{float(row['units']):,.0f}",
            str(row["origin"]),
            str(row["last_day"]),
        )
    console.print(table)
    console.print(
        f"History: {state.facts.get('legacy_rows', 0):,} imported daily rows (two years) plus "
        f"{state.options.days} live days; the batch run backtests every series on it (see "
        "docs/forecast.md for the models and `make bench` for their accuracy)."
    )


def step_report(state: DemoState) -> None:
    from salesphere_tools.report.build import build_report

    path, _ = build_report(state.options.out / "salesphere-dashboard.html", settings=state.settings)
    state.facts["report"] = path.resolve()
    console.print(f"Dashboard: [bold]{path.resolve()}[/bold] (open it in a browser; works offline)")


def step_purchasing(state: DemoState) -> None:
    """What the first store should order, as the purchasing team's spreadsheet."""
    from salesphere_tools import purchasing

    store = "SP01"
    out = state.options.out / f"sugestao_compra_{store}.csv"
    try:
        result = purchasing.export(state.settings, store, out)
    except purchasing.ExportError as exc:
        console.print(f"[yellow]no purchase suggestion:[/yellow] {exc}")
        return
    state.facts["purchasing"] = result.path.resolve()
    rows = purchasing.fetch_rows(state.settings, store)
    state.facts["suggestion_rows"] = rows
    sources = {r["demand_source"] for r in rows}
    console.print(
        f"{store}: {result.to_order} of {len(rows)} SKUs to order, demand from "
        f"{' and '.join(sorted(sources))}; written to [bold]{result.path.resolve()}[/bold] "
        "(; separated, decimal comma, UTF-8 with BOM)"
    )
    if "forecast" not in sources:
        console.print(
            "no forecast yet for these SKUs: the suggestion uses the observed average until "
            "a batch run has enough history to forecast"
        )
    table = Table("SKU", "product", "on hand", "order", "stock-out", "urgent")
    for row in [r for r in rows if r["suggested_order_quantity"] > 0][:5]:
        table.add_row(
            row["sku"],
            str(row["product_name"]),
            str(row["on_hand"]),
            str(row["suggested_order_quantity"]),
            str(row["stockout_date"] or "–"),
            "yes" if row["urgent"] else "",
        )
    console.print(table)


def step_legacy_history(state: DemoState) -> None:
    """Two years of daily sales from the old system, imported before the live week."""
    from datetime import date

    from salesphere.ingest.history import import_file
    from salesphere_tools.generate.legacy import write_legacy_history

    opts = state.options
    first_live = date.fromisoformat(str(state.facts["dates"][0]))
    path = opts.out / "data" / "legacy" / "historico_vendas.csv"
    with console.status("writing the old system's daily summary"):
        path, rows = write_legacy_history(
            path,
            stores=opts.stores,
            skus=200,
            end=first_live,
            days=HISTORY_DAYS,
            seed=opts.seed,
            buyers=True,
        )
    with console.status(f"importing {rows:,} rows (salesphere history import)"):
        report = import_file(state.settings, path)
    state.facts["legacy_rows"] = report.accepted
    console.print(
        f"{path.name}: {report.received:,} rows read, {report.accepted:,} imported "
        f"({report.first_day:%d/%m/%Y}..{report.last_day:%d/%m/%Y}), "
        f"{report.rejected} quarantined; the live week starts {first_live:%d/%m/%Y}."
    )
    again = import_file(state.settings, path)
    console.print(
        "Imported again: "
        + (
            "already imported, nothing changed."
            if again.already_imported
            else "[red]landed twice[/red]"
        )
    )


#: Backtest accuracy per model: mean WAPE over the series each model was scored on, and
#: over the series where it was the one chosen.
ACCURACY_SQL = (
    "SELECT a.model, COUNT(*) AS series, AVG(a.wape) AS mean_wape, "
    "COUNTIF(a.chosen) AS chosen_in FROM batch.forecast_accuracy AS a "
    "WHERE a.wape IS NOT NULL GROUP BY a.model ORDER BY mean_wape"
)
CHOSEN_ACCURACY_SQL = (
    "SELECT COUNT(*) AS series, AVG(a.wape) AS mean_wape FROM batch.forecast_accuracy AS a "
    "WHERE a.chosen AND a.wape IS NOT NULL"
)


def _accuracy(state: DemoState) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    from salesphere.gcp import clients

    return (
        clients.query_rows(state.settings, ACCURACY_SQL),
        clients.query_rows(state.settings, CHOSEN_ACCURACY_SQL),
    )


def step_backtest_and_replay(state: DemoState) -> None:
    """How good the forecast is against the baselines, and what the policy does with it."""
    from salesphere.forecast.models import SEASONAL_NAIVE, TRAILING_AVG
    from salesphere_tools import replay

    per_model, chosen = _accuracy(state)
    if not per_model:
        console.print("[yellow]no backtest yet[/yellow]: the history is too short to score")
        return
    wape = {str(r["model"]): float(r["mean_wape"]) for r in per_model}
    table = Table("model", "series scored", "mean WAPE", "chosen for")
    for row in per_model:
        table.add_row(
            str(row["model"]),
            f"{row['series']:,}",
            f"{float(row['mean_wape']):.1%}",
            f"{row['chosen_in']:,}",
        )
    console.print(table)
    best = float(chosen[0]["mean_wape"]) if chosen and chosen[0]["mean_wape"] is not None else None
    if best is not None:
        console.print(
            f"Backtest: the chosen models' mean WAPE is {best:.1%} against "
            f"{wape.get(SEASONAL_NAIVE, float('nan')):.1%} for seasonal naive and "
            f"{wape.get(TRAILING_AVG, float('nan')):.1%} for the 28-day average "
            "(stock-out days excluded)."
        )
        state.facts["backtest_wape"] = best
    with console.status("replaying the purchase policy over the last year"):
        data = replay.generated_data(stores=state.options.stores, skus=200, seed=state.options.seed)
        outcome = replay.simulate(data, series=200, seed=0, targets=(0.95,)).outcomes[0]
    state.facts["replay"] = outcome
    console.print(
        f"Policy replay (200 series, 364 days, 95 % target): fill rate {outcome.fill:.1%}, "
        f"{outcome.days_on_hand:.1f} days of stock on hand, "
        f"{outcome.orders_per_year:.0f} orders and {outcome.stockout_days_per_year:.1f} "
        "stock-out days per series per year (`salesphere replenishment simulate`)."
    )


@dataclass(frozen=True, slots=True)
class UrgentLine:
    """One urgent line and the numbers that make it urgent."""

    sku: str
    on_hand: int
    on_order: int
    daily_demand: float
    lead_time_days: int
    reorder_point: float
    order: int
    stockout_date: object

    def why(self) -> str:
        shelf = max(self.on_hand, 0)
        cover = shelf / self.daily_demand if self.daily_demand > 0 else float("inf")
        out = (
            f"{self.sku}: {self.on_hand} on hand + {self.on_order} on order = "
            f"{self.on_hand + self.on_order} <= reorder point {self.reorder_point:.1f} "
            f"({self.daily_demand:.2f}/day forecast x {self.lead_time_days} days lead time "
            f"+ safety); the shelf lasts {cover:.1f} days"
        )
        if self.stockout_date is not None:
            out += f" (runs out {self.stockout_date})"
        return out + f"; order {self.order}"


@dataclass(frozen=True, slots=True)
class SuggestionSummary:
    """The purchase suggestion of one store, as a buyer reads it."""

    store: str
    skus: int
    to_order: int
    units: int
    urgent: list[UrgentLine]
    median_cover_days: float | None
    median_lead_days: int | None

    @property
    def share(self) -> float:
        return self.to_order / self.skus if self.skus else 0.0

    def text(self, shown: int = 3) -> str:
        lines = [
            f"{self.store}: order {self.to_order} of {self.skus} SKUs ({self.share:.0%}, "
            f"{self.units:,} units); {len(self.urgent)} urgent (on hand plus on order at or "
            "below the reorder point)."
        ]
        if self.median_cover_days is not None:
            lines.append(
                f"The median SKU's stock covers {self.median_cover_days:.1f} days of forecast "
                f"demand, against a median supplier lead time of {self.median_lead_days} days."
            )
        lines += [f"  urgent {u.why()}" for u in self.urgent[:shown]]
        return "\n".join(lines)


def summarize_suggestion(store: str, rows: list[dict[str, Any]]) -> SuggestionSummary:
    """serving.replenishment's rows of ``store`` in a buyer's words."""
    to_order = [r for r in rows if int(r["suggested_order_quantity"] or 0) > 0]
    urgent = sorted(
        (
            UrgentLine(
                sku=str(r["sku"]),
                on_hand=int(r["on_hand"]),
                on_order=int(r["on_order"] or 0),
                daily_demand=float(r["daily_demand"] or 0),
                lead_time_days=int(r["lead_time_days"]),
                reorder_point=float(r["computed_reorder_point"] or 0),
                order=int(r["suggested_order_quantity"]),
                stockout_date=r["stockout_date"],
            )
            for r in to_order
            if r["urgent"]
        ),
        key=lambda u: (u.stockout_date is None, str(u.stockout_date), u.sku),
    )
    covers = sorted(
        max(int(r["on_hand"]), 0) / float(r["daily_demand"])
        for r in rows
        if r["daily_demand"] and float(r["daily_demand"]) > 0
    )
    leads = sorted(int(r["lead_time_days"]) for r in rows)
    return SuggestionSummary(
        store=store,
        skus=len(rows),
        to_order=len(to_order),
        units=sum(int(r["suggested_order_quantity"]) for r in to_order),
        urgent=urgent,
        median_cover_days=covers[len(covers) // 2] if covers else None,
        median_lead_days=leads[len(leads) // 2] if leads else None,
    )


def step_suggestion_summary(state: DemoState) -> None:
    """The purchase suggestion in a buyer's words: how much to order, what cannot wait."""
    from salesphere_tools import purchasing

    store = "SP01"
    # The rows step 12 read (the view is the slowest query of the demo), else read them now.
    rows = state.facts.get("suggestion_rows") or purchasing.fetch_rows(state.settings, store)
    summary = summarize_suggestion(store, rows)
    state.facts["suggestion"] = summary.text()
    state.facts["suggestion_summary"] = summary
    console.print(summary.text(shown=len(summary.urgent)))


def run_demo(options: DemoOptions) -> bool:
    """Run every step; return True if all succeeded."""
    # The demo gets its own twin directory, emptied first: its totals are checked against
    # the generator's books, so data left by an earlier run (another seed) must not count.
    settings = Settings.from_env().with_twin_dir(options.out / "twin")
    twin = Twin(settings)
    twin.down()
    shutil.rmtree(settings.twin_dir, ignore_errors=True)
    state = DemoState(options=options, settings=settings, twin=twin)
    options.out.mkdir(parents=True, exist_ok=True)
    steps: list[tuple[str, Step]] = [
        ("1. Local twin up", step_twin_up),
        ("2. Generate SalesSphere data", step_generate),
        ("3. Load reference data (products, stores)", step_reference),
        ("3b. Import two years of daily sales from the old system", step_legacy_history),
        ("4. Ingest history: live batches over HTTP, spreadsheets as file drops", step_history),
        ("5. Batch layer: rebuild master.events and batch views, set the cutoff", step_first_batch),
        ("6. The newest day arrives live, with late spreadsheets", step_today),
        ("7. Batch layer again: the new events move from speed to batch", step_second_batch),
        ("8. Serving totals vs. the generator's own bookkeeping", step_check_against_generator),
        ("9. Fiscal XML and purchase orders in transit", step_fiscal_and_orders),
        ("10. Reconcile: nothing lost, nothing doubled", step_reconcile),
        ("11. Demand forecast per store and SKU (batch layer)", step_forecast),
        ("11b. Backtest against the baselines, and the policy replayed", step_backtest_and_replay),
        ("12. Purchase suggestion (serving.replenishment)", step_purchasing),
        ("12b. The suggestion in short", step_suggestion_summary),
        ("13. Dashboard", step_report),
    ]
    ok = True
    try:
        for title, fn in steps:
            _step(title, fn, state)
    except Exception as exc:
        ok = False
        console.print_exception(max_frames=5)
        console.print(f"[red]Demo step failed:[/red] {exc}")
    finally:
        if not options.keep_running:
            console.rule("[bold]Stopping the twin")
            state.twin.down()
    timing = "\n".join(f"{name}: {sec:.1f} s" for name, sec in state.timings.items())
    console.print(Panel(timing or "(no steps ran)", title="Demo timings"))
    if ok:
        exp = state.facts["manifest"].expected
        console.print(
            Panel(
                f"{exp['accepted_events']:,} distinct events served exactly once "
                f"({exp['duplicate_events']:,} duplicates absorbed, "
                f"{exp['rejected_events']:,} rejects quarantined with reasons).\n"
                f"Serving totals match the generator's own books; reconcile passed.\n"
                f"Dashboard: {state.facts.get('report')}\n"
                f"Purchase suggestion: {state.facts.get('purchasing', '–')}\n"
                f"{state.facts.get('suggestion', '')}",
                title="[green]SalesSphere demo: done",
            )
        )
    return ok
