"""Cloud Function ``batch_http``: the Cloud Scheduler target that runs the batch layer.

Scheduler delivers at least once, so the handler is idempotent twice over: the run id is
derived from the schedule slot (``X-CloudScheduler-ScheduleTime``), so a redelivered
request for a slot that already succeeded returns ``already_done``; and every batch write
is a replace committed in one transaction, so even a second run cannot double anything.
A request arriving while another run holds the lock gets 409 (the scheduler retries).

``SALESPHERE_BATCH_RUNTIME`` selects where the Beam stage runs: ``function`` (default) in
this process, ``dataflow`` as the batch flex template's job, which this function launches
and waits for before committing (``salesphere/batch/dataflow.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date, timedelta
from typing import Any

import functions_framework

from salesphere.batch.dataflow import launcher_for
from salesphere.batch.lock import RunInProgress
from salesphere.batch.runner import new_run_id, run_batch
from salesphere.settings import Settings

log = logging.getLogger("salesphere.batch")
#: A lag beyond a week would leave the batch views a week behind: surely a typo.
MAX_ARCHIVE_LAG = timedelta(days=7)


def run_id_for(headers: dict[str, str], body: dict[str, Any]) -> str:
    """Same schedule slot (or same explicit ``run_id``) -> same run id."""
    if body.get("run_id"):
        return str(body["run_id"])
    slot = headers.get("X-CloudScheduler-ScheduleTime")
    if slot:
        return "sched-" + hashlib.sha256(slot.encode()).hexdigest()[:16]
    return new_run_id()


def handle(body: dict[str, Any], headers: dict[str, str], settings: Settings) -> tuple[dict, int]:
    """Pure request handling (tested without an HTTP server)."""
    mode = body.get("mode", "incremental")
    if mode not in {"incremental", "full", "backfill"}:
        return {"error": f"mode must be incremental, full or backfill, not {mode!r}"}, 400
    try:
        date_from = date.fromisoformat(body["from"]) if body.get("from") else None
        date_to = date.fromisoformat(body["to"]) if body.get("to") else None
    except (TypeError, ValueError) as exc:
        return {"error": f"from/to must be YYYY-MM-DD dates: {exc}"}, 400
    raw_lag = body.get("archive_lag_seconds", settings.batch_archive_lag_seconds)
    try:
        lag_seconds = float(raw_lag)
    except (TypeError, ValueError):
        return {"error": f"archive_lag_seconds must be a number of seconds, not {raw_lag!r}"}, 400
    if not 0 <= lag_seconds <= MAX_ARCHIVE_LAG.total_seconds():
        return {
            "error": f"archive_lag_seconds must be between 0 and "
            f"{MAX_ARCHIVE_LAG.total_seconds():.0f}, not {raw_lag!r}"
        }, 400
    lag = timedelta(seconds=lag_seconds)
    try:
        report = run_batch(
            settings,
            full=mode == "full",
            date_from=date_from,
            date_to=date_to,
            archive_lag=lag,
            run_id=run_id_for(headers, body),
            launcher=launcher_for(settings),
        )
    except RunInProgress as exc:
        return {"status": "busy", "error": str(exc)}, 409
    if report.failed:
        # Committed, but the forecast is stale: an error the scheduler and the logs show.
        log.error(json.dumps({"event": "batch_run", **report.to_dict()}))
        return report.to_dict(), 500
    log.info(json.dumps({"event": "batch_run", **report.to_dict()}))
    return report.to_dict(), 200


@functions_framework.http
def batch_http(request):  # request: flask.Request
    """HTTP entry point: POST {"mode": "incremental"|"full"|"backfill", "from", "to"}.

    Only POST runs the batch (Cloud Scheduler posts). ``GET /healthz`` answers without
    running anything, so a readiness probe can never start a batch run; other methods
    get 405.
    """
    if request.method == "GET" and request.path.rstrip("/").endswith("/healthz"):
        return json.dumps({"status": "ok"}), 200, {"Content-Type": "application/json"}
    if request.method != "POST":
        return (
            json.dumps({"error": "POST a JSON body to run the batch"}),
            405,
            {"Content-Type": "application/json", "Allow": "POST"},
        )
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        payload: dict[str, Any] = {"error": "the request body must be a JSON object"}
        return json.dumps(payload), 400, {"Content-Type": "application/json"}
    payload, status = handle(body, dict(request.headers), Settings.from_env())
    return json.dumps(payload, default=str), status, {"Content-Type": "application/json"}
