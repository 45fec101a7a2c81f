"""Ingest throughput, each figure beside a naive baseline doing the same work.

Called by ``salesphere bench`` (and runnable as ``python -m salesphere_tools.bench.ingest``):

* :func:`bench_http` - events/s accepted end to end by the running ``ingest-http``
  function (signed POSTs of 500 records -> Pub/Sub emulator confirmed -> ingest log),
  against a naive in-process baseline (per-record ``json`` + dict checks, one Pub/Sub
  message per event). Needs a twin with ``ingest-http`` up.
* :func:`bench_csv` / :func:`bench_xlsx` - rows/s for a 100k-row store spreadsheet
  through reader, mapping, validation and envelope serialisation (no I/O), against the
  ``csv`` module / openpyxl row iteration with pydantic validation per row.
* :func:`peak_memory_mib` - peak RSS of a fresh process processing such a file.

Each returns a plain dict of figures so the caller can print a table or write JSON.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from salesphere.ingest.catalog import Reference
from salesphere.ingest.files import choose_mapping
from salesphere.ingest.mapper import Mapper
from salesphere.ingest.processing import RecordProcessor
from salesphere.ingest.publish import envelope_bytes, pack_rows
from salesphere.ingest.readers import open_table
from salesphere.settings import Settings
from salesphere_tools.bench.rss import own_peak_mib
from salesphere_tools.generate.spreadsheets import HEADERS  # the generator's store export

SKUS = tuple(f"ELE-{10001 + i}" for i in range(200))
STORES = ("SP01", "RJ01", "MG01", "WEB")
REFERENCE = Reference(frozenset(SKUS), frozenset(STORES), {s: "America/Sao_Paulo" for s in STORES})
DAY = date(2026, 11, 28)


# -- inputs ----------------------------------------------------------------------------


def _sheet_rows(rows: int) -> Iterator[list[Any]]:
    for n in range(rows):
        price = 1000 + (n * 37) % 50_000
        yield [
            DAY,
            f"{8 + n % 12:02d}:{n % 60:02d}:{(n * 7) % 60:02d}",
            STORES[n % 3],
            f"{STORES[n % 3]}-20261128-{n // 3:06d}",
            1 + n % 3,
            SKUS[n % len(SKUS)],
            1 + n % 4,
            price,
            0,
            price * (1 + n % 4),
            "Venda" if n % 50 else "Devolução",
        ]


def _br(cents: int) -> str:
    return f"{cents // 100:,}".replace(",", ".") + f",{cents % 100:02d}"


def write_csv(path: Path, rows: int) -> Path:
    """A Latin-1, ``;``-separated store export with Brazilian formats."""
    with path.open("w", encoding="latin-1", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(HEADERS)
        for r in _sheet_rows(rows):
            writer.writerow(
                [
                    r[0].strftime("%d/%m/%Y"),
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    r[6],
                    _br(r[7]),
                    _br(r[8]),
                    _br(r[9]),
                    r[10],
                ]
            )
    return path


def write_xlsx(path: Path, rows: int) -> Path:
    """The same export as an XLSX with typed cells (dates, numbers), as Excel leaves it."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Vendas")
    sheet.append(list(HEADERS))
    for r in _sheet_rows(rows):
        sheet.append(
            [r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7] / 100, r[8] / 100, r[9] / 100, r[10]]
        )
    workbook.save(path)
    return path


# -- our path and the naive one ----------------------------------------------------------


def process_file(path: Path, name: str) -> dict[str, int]:
    """Reader -> mapping -> validation -> envelopes serialised: the file drop minus I/O."""
    mapping = choose_mapping(path, name)
    table = open_table(path, name, mapping.delimiter, mapping.encodings)
    processor = RecordProcessor(
        Mapper(mapping, REFERENCE.timezone_of), REFERENCE, datetime.now(UTC)
    )
    rows: list[dict[str, Any]] = []
    counts = {"rows": 0, "events": 0, "bytes": 0}
    for index, record in table.rows:
        counts["rows"] += 1
        _result, out = processor.process(index, record)
        rows.extend(out)
        if len(rows) >= 500:
            counts["bytes"] += sum(
                len(envelope_bytes(e)) for e in pack_rows(rows, "spreadsheet", 500)
            )
            counts["events"] += len(rows)
            rows = []
    counts["bytes"] += sum(len(envelope_bytes(e)) for e in pack_rows(rows, "spreadsheet", 500))
    counts["events"] += len(rows)
    return counts


def _naive_row(values: list[Any], received: datetime) -> str:
    from salesphere.model import finalize

    day, hour, store, order, line, sku, qty, price, discount, _total, kind = values[:11]
    if isinstance(day, str):
        day = datetime.strptime(day, "%d/%m/%Y").date()
    elif isinstance(day, datetime):
        day = day.date()
    if isinstance(price, str):
        price = Decimal(price.replace(".", "").replace(",", "."))
        discount = Decimal(discount.replace(".", "").replace(",", "."))
    moment = datetime.fromisoformat(f"{day.isoformat()}T{hour}-03:00")
    event = finalize(
        {
            "event_type": "sale" if kind == "Venda" else "return",
            "occurred_at": moment,
            "source": "spreadsheet",
            "store_id": store,
            "sku": sku,
            "quantity": int(qty),
            "unit_price": Decimal(str(price)).quantize(Decimal("0.01")),
            "discount": Decimal(str(discount)).quantize(Decimal("0.01")),
            "order_id": order,
            "line_number": int(line),
            "source_ref": order,
        },
        received,
    )
    return json.dumps(event.to_row())


def naive_csv(path: Path) -> int:
    received = datetime.now(UTC)
    count = 0
    with path.open(encoding="latin-1", newline="") as handle:
        reader = csv.reader(handle, delimiter=";")
        next(reader)
        for values in reader:
            _naive_row(values, received)
            count += 1
    return count


def naive_xlsx(path: Path) -> int:
    from openpyxl import load_workbook

    received = datetime.now(UTC)
    workbook = load_workbook(path, read_only=True)
    count = 0
    for values in workbook.worksheets[0].iter_rows(min_row=2, values_only=True):
        _naive_row(list(values), received)
        count += 1
    workbook.close()
    return count


def _timed(fn: Any, *args: Any) -> tuple[Any, float, float]:
    """Result, wall seconds and CPU seconds of this process (all its threads).

    On a shared, overloaded machine the wall clock mostly measures the queue for a
    core; CPU seconds say what one dedicated core would do, so both are reported.
    """
    start, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - start, time.process_time() - cpu


def _file_bench(kind: str, rows: int, baseline_rows: int, workdir: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        base = Path(tmp)
        writer = write_csv if kind == "csv" else write_xlsx
        big = writer(base / f"vendas_bench.{kind}", rows)
        small = writer(base / f"vendas_small.{kind}", baseline_rows)
        counts, seconds, cpu = _timed(process_file, big, f"spreadsheet/{big.name}")
        naive = naive_csv if kind == "csv" else naive_xlsx
        naive_count, naive_seconds, naive_cpu = _timed(naive, small)
        ours = counts["rows"] / seconds
        theirs = naive_count / naive_seconds
        return {
            f"{kind}_rows": counts["rows"],
            f"{kind}_events": counts["events"],
            f"{kind}_file_mib": round(big.stat().st_size / 2**20, 1),
            f"{kind}_rows_per_s": round(ours),
            f"{kind}_baseline_rows_per_s": round(theirs),
            f"{kind}_ratio": round(ours / theirs, 2),
            f"{kind}_rows_per_cpu_s": round(counts["rows"] / cpu),
            f"{kind}_baseline_rows_per_cpu_s": round(naive_count / naive_cpu),
            f"{kind}_cpu_ratio": round((counts["rows"] / cpu) / (naive_count / naive_cpu), 2),
            f"{kind}_peak_mib": peak_memory_mib(big),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }


def bench_csv(rows: int = 100_000, *, workdir: Path | None = None) -> dict[str, Any]:
    """Rows/s for a ``rows``-row CSV store export vs csv module + pydantic per row."""
    return _file_bench("csv", rows, min(rows, 20_000), workdir)


def bench_xlsx(rows: int = 100_000, *, workdir: Path | None = None) -> dict[str, Any]:
    """Rows/s for a ``rows``-row XLSX (python-calamine) vs openpyxl iteration + pydantic."""
    return _file_bench("xlsx", rows, min(rows, 20_000), workdir)


def peak_memory_mib(path: Path) -> float:
    """Peak RSS (MiB) of a fresh interpreter processing ``path`` (reader + validation)."""
    done = subprocess.run(
        [sys.executable, "-m", "salesphere_tools.bench.ingest", "process", str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return float(json.loads(done.stdout)["peak_mib"])


# -- HTTP ------------------------------------------------------------------------------


def _pos_batch(start: int, size: int) -> list[dict[str, Any]]:
    base = datetime(2026, 11, 28, 12, tzinfo=UTC)
    return [
        {
            "terminal": "SP01-T1",
            "store": STORES[n % 3],
            "ticket": f"BENCH-{n // 2:09d}",
            "line": 1 + n % 2,
            "type": "sale",
            "sku": SKUS[n % len(SKUS)],
            "qty": 1 + n % 3,
            "unit_price": f"{10 + n % 90}.90",
            "discount": "0.00",
            "ts": (base + timedelta(seconds=n % 3600)).isoformat(),
        }
        for n in range(start, start + size)
    ]


@dataclass(frozen=True)
class HttpWork:
    """Events one in-process loop accepted, in wall and CPU seconds of this process."""

    events: int
    seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds

    @property
    def per_cpu_second(self) -> float:
        return self.events / self.cpu_seconds


def naive_http_work(settings: Settings, bodies: list[bytes]) -> HttpWork:
    """The same batches done naively: per-record json + dict checks, one message per event."""
    from salesphere import names
    from salesphere.gcp import clients

    publisher = clients.publisher(settings)
    topic = clients.topic_path(settings, names.TOPIC_EVENTS)
    required = ("store", "ticket", "line", "type", "sku", "qty", "unit_price", "ts")
    count = 0
    start, cpu = time.perf_counter(), time.process_time()
    for body in bodies:
        futures = []
        for record in json.loads(body):
            if not all(k in record for k in required) or not isinstance(record["qty"], int):
                continue
            if record["qty"] < 0 or float(record["unit_price"]) < 0:
                continue
            event = {**record, "received_at": datetime.now(UTC).isoformat()}
            futures.append(publisher.publish(topic, json.dumps(event).encode()))
        for future in futures:
            future.result(timeout=60)
        count += len(futures)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    publisher.stop()
    return HttpWork(count, seconds, cpu)


def load_bench_reference(settings: Settings) -> None:
    """The bench catalog in ``reference.products`` / ``reference.stores`` (idempotent by
    insertId), so the unknown-SKU check runs as in production and the reference cache
    holds (an empty catalog is re-read on every request)."""
    from salesphere.gcp import clients

    bq = clients.bigquery_client(settings)
    bq.insert_rows_json(
        f"{settings.project}.reference.products",
        [
            {
                "sku": s,
                "name": s,
                "category": "bench",
                "unit_cost": "1.00",
                "list_price": "2.00",
                "reorder_point": 1,
                "supplier_lead_time_days": 1,
            }
            for s in SKUS
        ],
        row_ids=list(SKUS),
    )
    bq.insert_rows_json(
        f"{settings.project}.reference.stores",
        [
            {
                "store_id": s,
                "name": s,
                "city": "c",
                "state": "SP",
                "channel": "store",
                "timezone": "America/Sao_Paulo",
            }
            for s in STORES
        ],
        row_ids=list(STORES),
    )


def _post_all(session: Any, url: str, settings: Settings, bodies: list[bytes]) -> tuple[int, int]:
    """POST each body (re-sending after a 503, as a sender must); events accepted, retries."""
    from salesphere.ingest import signing

    key_id, secret = settings.hmac_keys[0]
    accepted = retries = 0
    for body in bodies:
        while True:
            response = session.post(
                url, data=body, headers=signing.sign(key_id, secret, body), timeout=120
            )
            if response.status_code != 503:
                break
            retries += 1
            time.sleep(float(response.headers.get("Retry-After", "1")))  # as the answer asks
        response.raise_for_status()
        accepted += response.json()["summary"]["events"]
    return accepted, retries


def inprocess_http_work(settings: Settings, bodies: list[bytes]) -> HttpWork:
    """Our handler in-process: a real werkzeug request through ``http.handle`` (auth,
    parsing, mapping, validation, confirmed publish, ledger) minus the HTTP server."""
    from flask import Request
    from werkzeug.test import EnvironBuilder

    from salesphere.ingest import http, signing
    from salesphere.ingest.service import IngestService

    service = IngestService(settings)
    key_id, secret = settings.hmac_keys[0]

    def request(body: bytes) -> Any:
        return Request(
            EnvironBuilder(
                method="POST",
                path="/",
                query_string="source=pos",
                data=body,
                headers=signing.sign(key_id, secret, body),
            ).get_environ()
        )

    http.handle(request(bodies[0]), service)  # warm: catalog and clients
    count = 0
    start, cpu = time.perf_counter(), time.process_time()
    for body in bodies:
        answer = http.handle(request(body), service)
        answer.flask()
        if answer.status != 200:
            raise RuntimeError(f"in-process ingest answered {answer.status}: {answer.body}")
        count += answer.body["summary"]["events"]
    return HttpWork(count, time.perf_counter() - start, time.process_time() - cpu)


def _service_cpu_seconds(settings: Settings, name: str = "ingest-http") -> float | None:
    """CPU seconds used so far by a twin service and its children (gunicorn's worker),
    from ``/proc``; ``None`` when the twin's state or ``/proc`` cannot tell."""
    try:
        state = json.loads((settings.twin_dir / "state.json").read_text())
        root = int(state["processes"][name]["pid"])
        stats = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    except (OSError, KeyError, ValueError):
        return None
    tree = {root}
    changed = True
    while changed:
        changed = False
        for pid, (parent, _) in stats.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                changed = True
    ticks = sum(stats[pid][1] for pid in tree if pid in stats)
    return ticks / os.sysconf("SC_CLK_TCK")


def bench_http(
    settings: Settings | None = None, *, events: int = 50_000, batch_size: int = 500
) -> dict[str, Any]:
    """Events/s accepted by ingest: end to end over HTTP, and in-process beside the baseline.

    * ``http_events_per_s``: one sender, signed POSTs one after another to the running
      ``ingest-http`` (functions-framework), each answered after Pub/Sub confirmed it.
    * ``http_concurrent_events_per_s``: ``max_inflight_requests`` senders at once (what
      many POS terminals do), re-sending shed requests.
    * ``http_inprocess_events_per_s`` vs ``http_baseline_events_per_s``: the fair ratio,
      both in-process against the same emulators (our ``http.handle`` with a real
      werkzeug request; the naive loop with one Pub/Sub message per event).

    Loads the bench catalog into ``reference.products`` / ``reference.stores`` first,
    so the unknown-SKU check runs as in production.
    """
    settings = settings or Settings.from_env()
    load_bench_reference(settings)
    bodies = [json.dumps(_pos_batch(i, batch_size)).encode() for i in range(0, events, batch_size)]
    url = f"{settings.ingest_url}/?source=pos"
    one = _one_sender(settings, url, bodies)
    return {
        "http_events": one.accepted,
        "http_batch_size": batch_size,
        "http_events_per_s": round(one.accepted / one.seconds),
        "http_events_per_server_cpu_s": one.per_server_cpu_second(),
        **_many_senders(settings, url, bodies),
        **_inprocess_against_baseline(settings, bodies[: max(1, len(bodies) // 5)]),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


@dataclass(frozen=True)
class _SenderRun:
    """One sender's POSTs: events accepted, wall seconds, and the ingest service's CPU
    seconds over the run (``None`` when the twin cannot tell)."""

    accepted: int
    seconds: float
    server_cpu_seconds: float | None

    def per_server_cpu_second(self) -> int | None:
        """Events accepted per CPU second the service spent on them."""
        if self.server_cpu_seconds is None:
            return None
        return round(self.accepted / max(self.server_cpu_seconds, 1e-9))


def _one_sender(settings: Settings, url: str, bodies: list[bytes]) -> _SenderRun:
    """Every body POSTed in turn by one sender, after one warm-up request (the function
    instance's first request loads the catalogue and clients)."""
    import requests

    session = requests.Session()
    _post_all(session, url, settings, bodies[:1])  # warm the function instance
    server_cpu = _service_cpu_seconds(settings)
    start = time.perf_counter()
    accepted, _ = _post_all(session, url, settings, bodies)
    seconds = time.perf_counter() - start
    server_after = _service_cpu_seconds(settings)
    used = None if server_cpu is None or server_after is None else server_after - server_cpu
    return _SenderRun(accepted, seconds, used)


def _many_senders(settings: Settings, url: str, bodies: list[bytes]) -> dict[str, Any]:
    """The bodies shared among ``max_inflight_requests`` senders posting at once, each
    re-sending what the service sheds."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    senders = max(1, settings.max_inflight_requests)
    shares = [bodies[n::senders] for n in range(senders)]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=senders) as pool:
        done = list(
            pool.map(lambda share: _post_all(requests.Session(), url, settings, share), shares)
        )
    seconds = time.perf_counter() - start
    return {
        "http_concurrent_senders": senders,
        "http_concurrent_events_per_s": round(sum(n for n, _ in done) / seconds),
        "http_concurrent_retries": sum(r for _, r in done),
    }


def _inprocess_against_baseline(settings: Settings, sample: list[bytes]) -> dict[str, Any]:
    """Our handler and the naive loop on the same sample, both in this process against the
    same emulators, so their ratio compares the code alone."""
    ours = inprocess_http_work(settings, sample)
    theirs = naive_http_work(settings, sample)
    return {
        "http_inprocess_events_per_s": round(ours.per_second),
        "http_baseline_events_per_s": round(theirs.per_second),
        "http_ratio": round(ours.per_second / theirs.per_second, 2),
        "http_inprocess_events_per_cpu_s": round(ours.per_cpu_second),
        "http_baseline_events_per_cpu_s": round(theirs.per_cpu_second),
        "http_cpu_ratio": round(ours.per_cpu_second / theirs.per_cpu_second, 2),
        "http_ratio_basis": "in-process, both against the same emulators",
    }


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["process"]:
        path = Path(args[1])
        counts = process_file(path, f"spreadsheet/{path.name}")
        peak = own_peak_mib()
        print(json.dumps({**counts, "peak_mib": round(peak, 1)}))
        return
    what = args[0] if args else "files"
    results: dict[str, Any] = {}
    if what in ("files", "csv"):
        results.update(bench_csv())
    if what in ("files", "xlsx"):
        results.update(bench_xlsx())
    if what == "http":
        results.update(bench_http())
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
