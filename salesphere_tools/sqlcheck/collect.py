"""Every SQL statement the platform sends to BigQuery, taken from the code that sends it.

Where the code has a builder (the serving views as Pulumi deploys them, the twin's view
files, the batch commit script), the builder is called. Everything else is captured by
running the real function against :class:`RecordingClient`, a stand-in for
``google.cloud.bigquery.Client`` that keeps each ``query``/``query_and_wait`` call (text,
bound parameters with their BigQuery types, and the Python call stack) and answers with
no rows. So the text analysed is byte for byte what the function would send, and a new
statement inside a collected function is analysed without anyone listing it.

:data:`UNCOLLECTED` names the few query call sites deliberately not run here, with why;
``tests/sql/test_bigquery_analyzer.py`` fails when a call site appears in the source that
is neither reached by a collector nor listed there.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from salesphere import names
from salesphere.settings import Settings

#: The project the statements are rendered for (any id works; the catalog uses the same).
PROJECT = "salesphere-dev"
ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RUN_ID = "run-20261130T120000-abc123"


@dataclass(frozen=True)
class Statement:
    """One SQL text as sent, with the parameters it is sent with."""

    name: str  # what it is, e.g. "view serving.sales_daily (Pulumi)"
    origin: str  # where the code builds it: "path.py:function"
    sql: str
    parameters: dict[str, str] = field(default_factory=dict)  # name -> BigQuery type
    #: ``(dataset, table)`` when this statement is a view's query: its output columns
    #: become a catalog table, so views that read it can be analysed after it.
    defines: tuple[str, str] | None = None
    #: Call sites (``path::function``) on the stack when it was sent (for the guard test).
    sites: frozenset[str] = frozenset()
    script: bool = False  # several statements separated by ``;`` (one BigQuery script)


def _parameter_type(param: Any) -> str:
    """The type a ``ScalarQueryParameter``/``ArrayQueryParameter`` binds, as a type string."""
    if hasattr(param, "array_type"):
        return f"ARRAY<{param.array_type}>"
    return str(param.type_)


def _sites() -> frozenset[str]:
    """``path::function`` of every repository frame on the stack (outside this package)."""
    out = set()
    for frame in inspect.stack()[2:]:
        path = Path(frame.filename).resolve()
        if not path.is_relative_to(ROOT) or path.is_relative_to(Path(__file__).parent):
            continue
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("salesphere/", "salesphere_tools/", "infra/", "services/")):
            out.add(f"{rel}::{frame.function}")
    return frozenset(out)


class _Result(list):
    """Rows (none unless an answer is given), with the bits callers touch."""

    schema: list = []  # noqa: RUF012 - callers read .schema; empty is what no rows means
    total_rows = 0

    def result(self, *args: Any, **kwargs: Any) -> _Result:
        return self

    def done(self) -> bool:
        return True


@dataclass
class Sent:
    sql: str
    parameters: dict[str, str]
    sites: frozenset[str]


class RecordingClient:
    """Records queries instead of running them; ``answer(sql)`` may supply rows."""

    def __init__(self, answer: Callable[[str], list] | None = None) -> None:
        self.sent: list[Sent] = []
        self.answer = answer or (lambda sql: [])

    def _record(self, sql: str, job_config: Any) -> _Result:
        params = getattr(job_config, "query_parameters", None) or []
        self.sent.append(Sent(sql, {p.name: _parameter_type(p) for p in params}, _sites()))
        return _Result(self.answer(sql))

    def query(self, sql: str, job_config: Any = None, **kwargs: Any) -> _Result:
        return self._record(sql, job_config)

    def query_and_wait(self, sql: str, job_config: Any = None, **kwargs: Any) -> _Result:
        return self._record(sql, job_config)

    # Table calls the collected functions make around their queries.
    def get_table(self, table: Any, *args: Any, **kwargs: Any) -> Any:
        from google.api_core.exceptions import NotFound

        raise NotFound(f"{table} (recording client holds no tables)")

    def create_table(self, *args: Any, **kwargs: Any) -> None:
        return None

    def delete_table(self, *args: Any, **kwargs: Any) -> None:
        return None


@contextlib.contextmanager
def recording(answer: Callable[[str], list] | None = None) -> Iterator[RecordingClient]:
    """Route ``salesphere.gcp.clients.bigquery_client`` to a recorder for the block."""
    from salesphere.gcp import clients

    recorder = RecordingClient(answer)
    original = clients.bigquery_client
    clients.bigquery_client = lambda settings: recorder  # type: ignore[assignment]
    try:
        yield recorder
    finally:
        clients.bigquery_client = original  # type: ignore[assignment]


def settings() -> Settings:
    """The twin's settings under :data:`PROJECT` (no client is ever created from them)."""
    return Settings(project=PROJECT)


def _origin(function: Callable) -> str:
    path = Path(inspect.getsourcefile(function) or "").resolve().relative_to(ROOT).as_posix()
    return f"{path}:{function.__qualname__}"


def _run(name: str, function: Callable, *args: Any, answer=None, **kwargs: Any) -> list[Statement]:
    """Call ``function`` against a recorder; one :class:`Statement` per query it sent."""
    with recording(answer) as recorder:
        function(*args, **kwargs)
    if not recorder.sent:
        raise AssertionError(f"{_origin(function)} sent no query; update the sqlcheck collector")
    many = len(recorder.sent) > 1
    return [
        Statement(
            f"{name} #{i}" if many else name,
            _origin(function),
            sent.sql,
            sent.parameters,
            sites=sent.sites,
            script=sent.sql.count(";") > 1,
        )
        for i, sent in enumerate(recorder.sent, 1)
    ]


# -- the collectors ----------------------------------------------------------------------


def serving_views_pulumi() -> list[Statement]:
    """Each serving view's query exactly as the Pulumi program deploys it (project-qualified)."""
    from sql.views import load_views

    return [
        Statement(
            f"view serving.{view.name} (Pulumi)",
            "sql/views.py:load_views",
            view.query,
            defines=(names.DATASET_SERVING, view.name),
        )
        for view in load_views(PROJECT)
    ]


def warehouse_setup_twin() -> list[Statement]:
    """What the twin's warehouse setup sends: batch tables from their queries, serving views."""
    from salesphere.warehouse import views
    from sql.views import ensure_serving_views

    out = _run("batch tables (twin setup)", views.ensure_batch_tables, settings())
    out += [
        Statement(
            f"view serving.{s.sql.split()[4].split('.', 1)[1]} (twin CREATE VIEW)",
            s.origin,
            s.sql,
            s.parameters,
            sites=s.sites,
        )
        for s in _run("serving views (twin)", ensure_serving_views, settings())
    ]
    return out


def batch_commit() -> list[Statement]:
    """The batch transaction, incremental and full (and the test's failing variant)."""
    from salesphere.batch import commit

    staging = commit.staging_table(settings(), RUN_ID)
    out = []
    for label, full in (("incremental", False), ("full", True)):
        out += _run(
            f"batch commit script ({label})",
            commit.commit,
            settings(),
            staging,
            run_id=RUN_ID,
            cutoff=NOW,
            dates=["2026-11-29", "2026-11-30"],
            full=full,
        )
    return out


def batch_runner() -> list[Statement]:
    from salesphere.batch import runner

    run_id = RUN_ID
    return [
        *_run("batch: last successful run", runner.last_success_started_at, settings()),
        *_run("batch: run already succeeded", runner._already_succeeded, settings(), run_id),
        *_run("batch: forecast behind its run", runner._forecast_behind, settings()),
        *_run("batch: record start", runner._record_start, settings(), run_id, NOW),
        *_run("batch: record failure", runner._record_failure, settings(), run_id, "boom"),
    ]


def forecast_queries() -> list[Statement]:
    """The forecast step's reads (sales, stock replay, chosen models) and its swap script."""
    from salesphere.batch import forecast_tables as warehouse

    out = [
        *_run("forecast: daily sales", warehouse.read_sales, settings(), NOW.date()),
        *_run(
            "forecast: stock-out days",
            warehouse.read_stockout_days,
            settings(),
            NOW,
            NOW.date(),
            NOW.date(),
        ),
        *_run("forecast: chosen models", warehouse.read_choices, settings()),
    ]
    staging = warehouse.staging_table(settings(), RUN_ID, warehouse.DEMAND_FORECAST)
    accuracy = warehouse.staging_table(settings(), RUN_ID, warehouse.FORECAST_ACCURACY)
    for label, second in (("update", None), ("backtest", accuracy)):
        out += _run(f"forecast swap script ({label})", warehouse.swap, settings(), staging, second)
    return out


def speed_reads() -> list[Statement]:
    """``SpeedWarehouse``: the speed layer's reads (existence checks, history, sync)."""
    from salesphere.speed.sink import SpeedWarehouse

    row = {"event_id": "e1", "received_at": "2026-11-30T12:00:00Z"}
    with recording() as recorder:
        warehouse = SpeedWarehouse(settings(), client=recorder)
    calls: list[tuple[str, Callable, tuple]] = [
        ("speed: reorder points (all)", warehouse.reorder_points, ()),
        ("speed: reorder points (some)", warehouse.reorder_points, (["SKU-1"],)),
        ("speed: existing event ids", warehouse.existing_event_ids, ([row],)),
        ("speed: history", warehouse.history, ([("S1", "SKU-1")],)),
        ("speed: ids and pairs", warehouse.ids_and_pairs, (NOW, 1000)),
        ("speed: rows written since", warehouse.rows_written_since, (NOW, NOW)),
        ("speed: existing alert ids", warehouse.existing_alert_ids, (["a1"],)),
    ]
    out = []
    for name, method, args in calls:
        recorder.sent.clear()
        method(*args)
        out += [
            Statement(name, _origin(method), s.sql, s.parameters, sites=s.sites)
            for s in recorder.sent
        ]
    return out


def ingest_reads() -> list[Statement]:
    from salesphere.ingest import fiscal, history, service

    return (
        _run("ingest: reference lookups", service.load_catalog, settings())
        + _run("ingest: fiscal reference lookups", fiscal.load_fiscal_catalog, settings())
        + _run(
            "history import: already imported?",
            history.already_imported,
            settings(),
            "0" * 64,
            answer=lambda sql: [{"n": 0}],
        )
    )


def reconcile_checks() -> list[Statement]:
    from salesphere_tools import reconcile

    # archive=False: equation 4 reads the bucket; its queries are collected by
    # recompute_queries below
    return _run("reconcile", reconcile.reconcile, settings(), archive=False, answer=_reconcile_rows)


def recompute_queries() -> list[Statement]:
    """The warehouse reads of the archive recomputation (the archive itself is a bucket)."""
    from salesphere_tools import recompute

    def answer(sql: str) -> list[dict[str, Any]]:
        return [{"n": 0}] if sql.rstrip().endswith(" AS n") else []

    out: list[Statement] = []
    for name, function in (
        ("recompute: store zones", recompute.store_zones),
        ("recompute: served totals", recompute.served_totals),
        ("recompute: served events", recompute.served_events),
    ):
        out += _run(name, function, settings(), answer=answer)
    return out


def _reconcile_rows(sql: str) -> list[dict[str, Any]]:
    """Rows shaped like each check's, so ``reconcile()`` runs through every query."""
    if "distinct_accepted" in sql:
        return [
            dict.fromkeys(("distinct_accepted", "served_events", "ingest_accepted"), 0)
            | {"master_duplicates": 0}
        ]
    if "units_returned" in sql:
        return [dict.fromkeys(("units_sold", "net_sales", "sale_lines", "units_returned"), 0)]
    return []


def report_queries() -> list[Statement]:
    from salesphere_tools.report import data

    series = {
        "store_id": "SP01",
        "sku": "SKU-1",
        "revenue": 1,
        "name": "x",
        "on_hand": 1,
        "stockout_date": None,
        "demand_source": "forecast",
        "last_day": date(2026, 11, 30),
    }

    def answer(sql: str) -> list[dict[str, Any]]:
        # The newest full day, so the intraday query (sent only when there is one) runs too;
        # one charted series, so the forecast chart's history/forecast/stock reads run too.
        if "AS d FROM" in sql:
            return [{"d": date(2026, 11, 30)}]
        if "LEFT JOIN serving.replenishment" in sql:
            return [series]
        return []

    return _run("report", data.fetch, settings(), answer=answer)


def purchasing_queries() -> list[Statement]:
    """``salesphere replenishment export``: the store's suggestion and the store list."""
    from salesphere_tools import purchasing

    return [
        *_run("purchasing: replenishment rows", purchasing.fetch_rows, settings(), "SP01"),
        *_run("purchasing: known stores", purchasing.known_stores, settings()),
        *_run("purchasing: ordering terms", purchasing.fetch_terms, settings(), "SP01"),
    ]


def transfer_queries() -> list[Statement]:
    """``salesphere replenishment transfers``: one store's transfers, and every store's."""
    from salesphere_tools import transfers

    return [
        *_run("transfers: one store", transfers.fetch_rows, settings(), "SP01"),
        *_run("transfers: every store", transfers.fetch_rows, settings(), None),
    ]


def cli_queries() -> list[Statement]:
    """``salesphere speed tail`` for each table, summary and all columns."""
    from salesphere_tools.speed import tail

    out = []
    for what in tail.TABLES:
        for all_columns in (False, True):
            label = "all columns" if all_columns else "summary"
            out += _run(
                f"cli: speed tail {what} ({label})",
                tail.newest_rows,
                settings(),
                what,
                limit=20,
                all_columns=all_columns,
            )
    return out


def demo_queries() -> list[Statement]:
    from salesphere_tools import demo

    state = type("State", (), {"settings": settings()})()
    out = _run("demo: serving totals", demo._serving_totals, state)
    out += _run("demo: forecast summary", demo._forecast_summary, state)
    out += _run("demo: backtest accuracy", demo._accuracy, state)
    out += _run("demo: fiscal day and orders", demo._fiscal_and_order_rows, settings(), "SP01")
    for name, sql in (
        ("demo: distinct speed events", demo.SPEED_EVENTS_SQL),
        ("demo: events since cutoff", demo.SINCE_CUTOFF_SQL),
    ):
        out += _run(name, demo._scalar, state, sql)
    books = type("Manifest", (), {"expected": {"end_of_day_stock": []}})()
    stock_state = type("State", (), {"settings": settings(), "facts": {"manifest": books}})()
    quiet, demo.console.quiet = demo.console.quiet, True  # the check prints its table
    try:
        out += _run("demo: stock on hand", demo._check_stock_against_generator, stock_state)
    finally:
        demo.console.quiet = quiet
    return out


def probe_queries() -> list[Statement]:
    from salesphere_tools.speed import probe

    return [
        *_run("probe: id counts", probe.id_counts, settings(), ["e1"]),
        *_run("probe: rows for", probe.rows_for, settings(), ["e1"]),
        *_run("probe: alerts for", probe.alerts_for, settings(), "S1"),
    ]


def _catalog_rows(sql: str) -> list[tuple[str]]:
    """A one-row catalog, so the benchmarks' catalog readers return without loading one."""
    return [("SKU-1",)] if "reference.products" in sql else [("S1",)]


def benchmark_queries() -> list[Statement]:
    """Benchmarks and load tests (twin only, but the same SQL must stay valid)."""
    from salesphere_tools.bench import batch as batch_bench
    from salesphere_tools.bench import load as loadtest
    from salesphere_tools.bench import speed as speed_bench

    out = _run("bench: serving views", batch_bench.bench_serving, settings(), repeats=1)
    out += _run("bench: DuckDB baseline's store clocks", batch_bench.store_clocks, settings())
    out += _run("loadtest: catalog", loadtest._catalog, settings(), answer=_catalog_rows)
    out += _run(
        "bench: speed catalog", speed_bench._ingest_catalog, settings(), answer=_catalog_rows
    )

    def poll_twice_and_count() -> None:
        poller = speed_bench.VisibilityPoller(settings(), "store_id", "bench-")
        poller.poll()  # full poll; its row sets the newest stamp...
        poller.poll()  # ...so this one is incremental (``written_at >= @after``)
        poller.count()

    first = [True]

    def one_row_first(sql: str) -> list[dict[str, Any]]:
        if first[0]:
            first[0] = False
            return [{"event_id": "e1", "written_at": NOW}]
        return []

    out += _run("bench: speed visibility poller", poll_twice_and_count, answer=one_row_first)
    return out


COLLECTORS: tuple[Callable[[], list[Statement]], ...] = (
    serving_views_pulumi,
    warehouse_setup_twin,
    batch_commit,
    batch_runner,
    forecast_queries,
    speed_reads,
    ingest_reads,
    reconcile_checks,
    recompute_queries,
    report_queries,
    purchasing_queries,
    transfer_queries,
    cli_queries,
    demo_queries,
    probe_queries,
    benchmark_queries,
)

#: Query call sites not collected, and why (the guard test accepts only these).
UNCOLLECTED: dict[str, str] = {
    "salesphere_tools/cli/query.py::query": "runs the user's own SQL; it has none of its own",
    "salesphere/batch/pipeline.py::_stats": "Beam's metrics().query, not BigQuery",
}


def all_statements() -> list[Statement]:
    """Every collected statement, views in the order they can be created."""
    return [statement for collector in COLLECTORS for statement in collector()]
