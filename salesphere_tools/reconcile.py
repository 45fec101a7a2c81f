"""Prove nothing was lost or doubled: the books of the platform, checked layer by layer.

Three equations, each computed by the warehouse and compared here:

1. per source, records received = accepted + rejected (``ops.ingest_log``; a fiscal
   document is one record and its items are its events), and every
   file quarantined as a whole (refused, or given up on after its attempts) has its
   ``ops.ingest_log`` row (``facts["files"]`` counts them per source and rule);
2. accepted (ingest) = distinct events in master ∪ speed (what the layers hold), and the
   events the serving layer counts = master before the cutoff + ``events_since_cutoff``;
3. serving totals (units, net sales, sale lines, on hand) = the same totals recomputed
   directly from the distinct accepted events (master ∪ speed, earliest copy of each);
4. serving.sales_daily per local business day and store = the same recomputed in plain
   Python from the raw archive files (:mod:`salesphere_tools.recompute`), once the archive
   holds every served event (until then the check is reported as waiting, not failed).

Ingest counts an event each time it is accepted (a re-sent record is accepted twice),
so (2) compares distinct event ids: ``ops.ingest_log`` cannot be compared to distinct
events directly; instead it must be >= them, and the distinct set must equal the union.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from salesphere.batch.receipts import ASSUMED_RECEIPT_SOURCE
from salesphere.gcp import clients
from salesphere.settings import Settings
from salesphere_tools.recompute import SERVED_MASTER

#: Receipts the batch layer assumed for unconfirmed transfers were derived, never accepted
#: by ingest: the accepted events leave them out (salesphere/batch/receipts.py).
DISTINCT_ACCEPTED = f"""
SELECT * EXCEPT (rn) FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY received_at) AS rn
    FROM (
        SELECT * FROM master.events WHERE source != '{ASSUMED_RECEIPT_SOURCE}'
        UNION ALL
        SELECT * EXCEPT (written_at) FROM speed.events
    )
) WHERE rn = 1
"""

#: One ledger row per request or file: a retried request writes its row again with the same
#: request_id, and BigQuery's insertId deduplication is only best effort.
LEDGER = """
SELECT * FROM ops.ingest_log
QUALIFY ROW_NUMBER() OVER (PARTITION BY request_id ORDER BY received_at) = 1
"""

CHECKS: dict[str, str] = {
    "sources": f"""
        SELECT source, SUM(records_received) AS received, SUM(records_accepted) AS accepted,
               SUM(records_rejected) AS rejected, COALESCE(SUM(events_accepted), 0) AS events
        FROM ({LEDGER}) GROUP BY source ORDER BY source
    """,
    # Whole files ingest refused or gave up on (one ops.rejects row at location 'file'):
    # each must also have its ops.ingest_log row, or the file vanished from the books.
    "files": f"""
        SELECT q.source, q.rule, COUNT(*) AS files, COUNTIF(l.request_id IS NULL) AS unlogged
        FROM (SELECT DISTINCT request_id, source, rule FROM ops.rejects
              WHERE location = 'file') AS q
        LEFT JOIN (SELECT request_id FROM ({LEDGER})) AS l ON l.request_id = q.request_id
        GROUP BY q.source, q.rule ORDER BY q.source, q.rule
    """,
    "layers": f"""
        SELECT
          (SELECT COUNT(*) FROM ({DISTINCT_ACCEPTED})) AS distinct_accepted,
          (SELECT COUNT(*) FROM master.events WHERE received_at <
             (SELECT COALESCE(MAX(b.cutoff), TIMESTAMP '1970-01-01 00:00:00+00')
              FROM batch.cutoff AS b) AND {SERVED_MASTER})
          + (SELECT COUNT(*) FROM serving.events_since_cutoff) AS served_events,
          (SELECT COALESCE(SUM(events_accepted), 0) FROM ({LEDGER})) AS ingest_accepted,
          (SELECT COUNT(*) FROM master.events) - (SELECT COUNT(DISTINCT event_id)
             FROM master.events) AS master_duplicates
    """,
    "serving": """
        SELECT
          (SELECT COALESCE(SUM(units_sold), 0) FROM serving.sales_daily) AS units_sold,
          (SELECT COALESCE(SUM(net_sales), 0) FROM serving.sales_daily) AS net_sales,
          (SELECT COALESCE(SUM(sale_lines), 0) FROM serving.sales_daily) AS sale_lines,
          (SELECT COALESCE(SUM(units_returned), 0) FROM serving.sales_daily) AS units_returned
    """,
    "recomputed": f"""
        SELECT
          COALESCE(SUM(IF(event_type = 'sale', quantity, 0)), 0) AS units_sold,
          COALESCE(SUM(CASE event_type WHEN 'sale' THEN unit_price * quantity - discount
                   WHEN 'return' THEN discount - unit_price * quantity ELSE 0 END), 0)
            AS net_sales,
          COUNTIF(event_type = 'sale') AS sale_lines,
          COALESCE(SUM(IF(event_type = 'return', quantity, 0)), 0) AS units_returned
        FROM ({DISTINCT_ACCEPTED})
        -- A void (fiscal document cancelled after counting) takes its event out of every
        -- metric: the recomputation leaves both out too.
        WHERE event_type != 'void' AND event_id NOT IN (
            SELECT source_ref FROM ({DISTINCT_ACCEPTED})
            WHERE event_type = 'void' AND source_ref IS NOT NULL
        )
    """,
}


@dataclass
class Finding:
    check: str
    expected: Any
    actual: Any
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in self.__dict__.items()}


@dataclass
class Reconciliation:
    ok: bool
    facts: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, Decimal):
                return str(value)
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list):
                return [plain(v) for v in value]
            return value

        return {
            "ok": self.ok,
            "facts": plain(self.facts),
            "findings": [f.to_dict() for f in self.findings],
        }


def reconcile(settings: Settings, *, archive: bool = True) -> Reconciliation:
    """Run every check; ``ok`` is False with one finding per equation that fails.

    ``archive=False`` skips equation 4, which reads every archive object (seconds on the
    twin, a full bucket read in cloud)."""
    facts: dict[str, Any] = {
        name: clients.query_rows(settings, sql) for name, sql in CHECKS.items()
    }
    findings: list[Finding] = []
    if archive:
        findings += _archive_days(settings, facts)
    findings += _ingest_findings(facts)
    findings += _layer_findings(facts["layers"][0], has_sources=bool(facts["sources"]))
    findings += _serving_findings(facts["serving"][0], facts["recomputed"][0])
    return Reconciliation(ok=not findings, facts=facts, findings=findings)


def _ingest_findings(facts: dict[str, Any]) -> list[Finding]:
    """Equation 1: every record received was accepted or rejected, every refused file logged."""
    findings: list[Finding] = []
    for row in facts["sources"]:
        if row["received"] != row["accepted"] + row["rejected"]:
            findings.append(
                Finding(
                    f"source {row['source']}: received = accepted + rejected",
                    row["received"],
                    row["accepted"] + row["rejected"],
                    "ingest lost or invented records; see ops.ingest_log for the request",
                )
            )
    for row in facts["files"]:
        if row["unlogged"]:
            findings.append(
                Finding(
                    f"source {row['source']}: every quarantined file ({row['rule']}) is logged",
                    0,
                    row["unlogged"],
                    "a file was quarantined but has no ops.ingest_log row; upload it again",
                )
            )
    return findings


def _layer_findings(layers: dict[str, Any], *, has_sources: bool) -> list[Finding]:
    """Equation 2: the layers hold each accepted event once, and serving counts each once.

    ``has_sources``: ``ops.ingest_log`` holds any request or file; with an empty ledger
    ingest's count is not compared.
    """
    findings: list[Finding] = []
    if layers["served_events"] != layers["distinct_accepted"]:
        findings.append(
            Finding(
                "served events = distinct accepted events (master ∪ speed)",
                layers["distinct_accepted"],
                layers["served_events"],
                "an event is missing from, or counted twice across, batch and speed; "
                "is the archive behind the cutoff? run `salesphere batch run` again",
            )
        )
    if has_sources and layers["ingest_accepted"] < layers["distinct_accepted"]:
        findings.append(
            Finding(
                "events accepted by ingest >= distinct events in the layers",
                f">= {layers['distinct_accepted']}",
                layers["ingest_accepted"],
                "the layers hold events ingest never accepted",
            )
        )
    if layers["master_duplicates"]:
        findings.append(
            Finding(
                "master.events has one row per event_id",
                0,
                layers["master_duplicates"],
                "run `salesphere batch run --full`",
            )
        )
    return findings


def _serving_findings(serving: dict[str, Any], recomputed: dict[str, Any]) -> list[Finding]:
    """Equation 3: each serving total equals the one recomputed from the distinct events."""
    return [
        Finding(
            f"serving.sales_daily {key} = recomputed from distinct events",
            expected,
            serving[key],
            "a serving view disagrees with the events it summarises",
        )
        for key, expected in recomputed.items()
        if Decimal(str(serving[key])) != Decimal(str(expected))
    ]


def _totals(totals: Any) -> dict[str, Any] | None:
    if totals is None:
        return None
    return {
        "units_sold": totals.units_sold,
        "net_sales": str(totals.net_sales),
        "sale_lines": totals.sale_lines,
    }


def _archive_days(settings: Settings, facts: dict[str, Any]) -> list[Finding]:
    """Equation 4: local business days recomputed from the raw archive files."""
    from salesphere_tools.recompute import compare

    result = compare(settings, served_count=int(facts["layers"][0]["served_events"]))
    facts["archive_days"] = {
        "store_days": len(result.recomputed.keys() | result.served.keys()),
        "differ": len(result.differences),
        "archived_events": result.archived_events,
        "served_events": result.served_events,
        "complete": result.archive_complete,
        "sample": [
            {
                "sale_date": day.isoformat(),
                "store_id": store,
                "recomputed": _totals(result.recomputed.get((day, store))),
                "served": _totals(result.served.get((day, store))),
            }
            for day, store in result.differences[:5]
        ],
    }
    if not result.archive_complete or not result.differences:
        return []
    day, store = result.differences[0]
    return [
        Finding(
            "serving.sales_daily per local day and store = recomputed from the archive files",
            _totals(result.recomputed.get((day, store))),
            _totals(result.served.get((day, store))),
            f"{len(result.differences)} store-day(s) differ, first {store} on {day}: "
            "check the store's timezone in reference.stores, then `salesphere batch run --full`",
        )
    ]
