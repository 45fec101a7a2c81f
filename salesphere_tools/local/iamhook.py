"""Record every Google API call a process makes, for the IAM sufficiency/least tests.

The twin has no IAM: an emulator answers a call the service account could never make in
Google Cloud. So the tests record what each service *does* and a test under Pulumi mocks
checks that the stack grants exactly that (``tests/infra/test_iam_recorded.py``). The
recording is done from outside the product code, at the client transports every Google
library goes through:

* REST (Cloud Storage, BigQuery): ``google.auth.transport.requests.AuthorizedSession``;
* gRPC (Pub/Sub): every channel made by ``grpc.secure_channel``/``insecure_channel`` gets
  a client interceptor.

Each call appends one JSON line ``{service, api, method, resource, ...}`` to the file
named by :data:`ENV_FILE`. Which service made it: in a function process launched by the
twin, :data:`ENV_SERVICE` names it; in the test process (batch runs in-process, some
ingest tests call the library directly) it is read from the call stack, by the innermost
product module (see :data:`STACK_SERVICES`); calls made only by test or tooling code are
not recorded. Threads inherit the service of the code that started them, so a Pub/Sub
publisher's commit thread still counts for its caller.

This file imports only the standard library at module level: the twin copies it next to a
``sitecustomize.py`` (:func:`launch_environment`) into the launch environment of each
function, which may be a bundle's own virtualenv with no repository on ``sys.path``.
Recording is off unless :data:`ENV_FILE` is set, so ``salesphere local up`` never records.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

ENV_FILE = "SALESPHERE_IAM_RECORD"
ENV_SERVICE = "SALESPHERE_IAM_SERVICE"
#: Innermost product module on the stack -> service (for calls from the test process).
#: Order matters: the first prefix that matches a frame's module wins.
#: ``None``: product code no deployed function runs (the history import is run by a data
#: engineer with ``salesphere history import``, under their own credentials).
STACK_SERVICES: tuple[tuple[str, str | None], ...] = (
    ("salesphere.ingest.history", None),
    ("salesphere.ingest.files", "ingest-files"),
    ("salesphere.ingest", "ingest-http"),
    ("salesphere.speed", "speed"),
    ("salesphere.batch", "batch"),
    ("services.batch", "batch"),
)
#: Frames from these modules mean "the test or a tool did it": not a service's call.
NOT_A_SERVICE = ("tests.", "salesphere_tools.", "_pytest.", "pytest")
_lock = threading.Lock()
_installed: list[bool] = []  # non-empty once the transports are patched
_thread_service = threading.local()
_BODY_LIMIT = 200_000
#: Library-internal calls that tolerate a 403 by design: recorded, but marked optional so
#: they demand no grant. google-cloud-storage's tracing cache fetches bucket metadata in
#: a background thread and caches a fallback on Forbidden (_bucket_metadata_cache.py).
OPTIONAL_CALLERS = {
    "google.cloud.storage._bucket_metadata_cache": "bucket-metadata cache of the storage "
    "client's tracing (a 403 is cached as a fallback, never raised)",
}


# -- attribution ------------------------------------------------------------------------


def _service_from_stack() -> str | None:
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module == __name__:
            frame = frame.f_back
            continue
        for prefix, service in STACK_SERVICES:
            if module == prefix or module.startswith(prefix + "."):
                return service
        if module.startswith(NOT_A_SERVICE) or module == "__main__":
            return None
        frame = frame.f_back
    return None


def current_service() -> str | None:
    """The service making the current call, or ``None`` for the test/tooling itself."""
    fixed = os.environ.get(ENV_SERVICE)
    if fixed:
        return fixed
    return _service_from_stack() or getattr(_thread_service, "name", None)


def _patch_threads() -> None:
    """A thread started by a service's code records as that service."""
    original = threading.Thread.start
    if getattr(original, "_iamhook", False):
        return

    def start(self: threading.Thread) -> None:
        service = current_service()
        if service is not None:
            target_run = self.run

            def run() -> None:
                _thread_service.name = service
                target_run()

            self.run = run  # type: ignore[method-assign]
        original(self)

    start._iamhook = True  # type: ignore[attr-defined]
    threading.Thread.start = start  # type: ignore[method-assign]


# -- the record -------------------------------------------------------------------------


def _optional() -> str | None:
    frame = sys._getframe(1)
    while frame is not None:
        reason = OPTIONAL_CALLERS.get(frame.f_globals.get("__name__", ""))
        if reason:
            return reason
        frame = frame.f_back
    return None


def _caller() -> str:
    """The innermost product frame (``module:line``) that led to the call, for review."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        product = module.startswith(("salesphere.", "services.", "main"))
        if product and not module.startswith("salesphere.gcp.clients"):
            return f"{module}:{frame.f_lineno}"
        frame = frame.f_back
    return ""


def _write(entry: dict[str, Any]) -> None:
    path = os.environ.get(ENV_FILE)
    service = current_service()
    if not path or service is None:
        return
    entry = {"service": service, "at": _caller(), **entry}
    optional = _optional()
    if optional:
        entry["optional"] = optional
    line = json.dumps(entry, sort_keys=True, default=str) + "\n"
    with _lock, Path(path).open("a", encoding="utf-8") as out:  # O_APPEND: a line a write
        out.write(line)


def _json_body(body: Any) -> dict[str, Any] | None:
    """The JSON object a REST call sent (the metadata part of a multipart upload too)."""
    if body is None:
        return None
    if isinstance(body, str):
        body = body.encode()
    if not isinstance(body, bytes | bytearray):
        return None
    data = bytes(body[:_BODY_LIMIT])
    start = data.find(b"{")
    if start < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(data[start:].decode("utf-8", "replace"))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _job_summary(body: dict[str, Any] | None) -> dict[str, Any]:
    """What a BigQuery job needs permission for: its SQL, destination and source URIs."""
    if not body:
        return {}
    if "query" in body and isinstance(body["query"], str):  # jobs.query
        return {"job": "query", "query": body["query"]}
    config = body.get("configuration") or {}
    for kind in ("query", "load", "copy", "extract"):
        if kind not in config:
            continue
        spec = config[kind]
        out: dict[str, Any] = {"job": kind}
        if kind == "query":
            out["query"] = spec.get("query", "")
        for key in ("destinationTable", "sourceTable"):
            table = spec.get(key)
            if table:
                out[key] = f"{table.get('datasetId')}.{table.get('tableId')}"
        if spec.get("sourceTables"):
            out["sourceTables"] = [f"{t['datasetId']}.{t['tableId']}" for t in spec["sourceTables"]]
        for key in ("sourceUris", "destinationUris", "createDisposition", "writeDisposition"):
            if spec.get(key):
                out[key] = spec[key]
        return out
    return {}


def record_rest(method: str, url: str, body: Any = None) -> None:
    """Record one REST call if it is a Cloud Storage or BigQuery API call."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    query = parse_qs(parts.query)
    if "upload_id" in query:  # the follow-up chunks of a resumable upload already recorded
        return
    found = re.search(r"/(?:(upload|download)/)?(storage/v1|bigquery/v2)/(.*)$", path)
    if found is None:
        return
    mode, api, rest = found.group(1), found.group(2).split("/")[0], found.group(3)
    entry: dict[str, Any] = {"api": api, "method": method.upper(), "path": rest}
    if mode:
        entry["mode"] = mode
    if api == "storage":
        if query.get("alt") == ["media"]:
            entry["mode"] = "download"
        if "ifGenerationMatch" in query:
            entry["ifGenerationMatch"] = query["ifGenerationMatch"][0]
        if "name" in query:  # uploads name the object in the query string
            entry["object"] = query["name"][0]
    elif method.upper() == "POST" and re.fullmatch(r"projects/[^/]+/(jobs|queries)", rest):
        entry.update(_job_summary(_json_body(body)))
    _write(entry)


def record_grpc(method: str, request: Any) -> None:
    """Record one Pub/Sub gRPC call with the topic or subscription it names."""
    if not method.startswith("/google.pubsub.v1."):
        return
    entry: dict[str, Any] = {"api": "pubsub", "method": method.rsplit(".", 1)[-1]}
    for field in ("topic", "subscription", "name", "snapshot"):
        value = getattr(request, field, None)
        if isinstance(value, str) and value:
            entry[field] = value
    _write(entry)


# -- installation -----------------------------------------------------------------------


def _patch_rest() -> None:
    try:
        from google.auth.transport import requests as google_requests
    except ImportError:  # a process without google-auth makes no Google REST calls
        return
    original = google_requests.AuthorizedSession.request
    if getattr(original, "_iamhook", False):
        return

    def request(self: Any, method: str, url: str, data: Any = None, *args: Any, **kw: Any) -> Any:
        body = data if data is not None else kw.get("json")
        if isinstance(body, dict):
            body = json.dumps(body)
        try:
            record_rest(method, url, body)
        except Exception as exc:  # never break the call being recorded
            print(f"iamhook: could not record {method} {url}: {exc}", file=sys.stderr)
        return original(self, method, url, data, *args, **kw)

    request._iamhook = True  # type: ignore[attr-defined]
    google_requests.AuthorizedSession.request = request  # type: ignore[method-assign]


def _patch_grpc() -> None:
    try:
        import grpc
    except ImportError:
        return
    if getattr(grpc.secure_channel, "_iamhook", False):
        return

    def _first(iterator: Any, method: str) -> Any:
        for index, item in enumerate(iterator):
            if index == 0:
                record_grpc(method, item)
            yield item

    class Recorder(
        grpc.UnaryUnaryClientInterceptor,
        grpc.UnaryStreamClientInterceptor,
        grpc.StreamUnaryClientInterceptor,
        grpc.StreamStreamClientInterceptor,
    ):
        def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
            record_grpc(details.method, request)
            return continuation(details, request)

        def intercept_unary_stream(self, continuation, details, request):  # type: ignore[no-untyped-def]
            record_grpc(details.method, request)
            return continuation(details, request)

        def intercept_stream_unary(self, continuation, details, requests):  # type: ignore[no-untyped-def]
            return continuation(details, _first(requests, details.method))

        def intercept_stream_stream(self, continuation, details, requests):  # type: ignore[no-untyped-def]
            return continuation(details, _first(requests, details.method))

    def wrap(make: Any) -> Any:
        def channel(*args: Any, **kw: Any) -> Any:
            return grpc.intercept_channel(make(*args, **kw), Recorder())

        channel._iamhook = True  # type: ignore[attr-defined]
        return channel

    grpc.secure_channel = wrap(grpc.secure_channel)
    grpc.insecure_channel = wrap(grpc.insecure_channel)


def install() -> bool:
    """Patch the transports once if :data:`ENV_FILE` is set; True when recording."""
    if not os.environ.get(ENV_FILE):
        return False
    with _lock:
        if not _installed:
            _patch_threads()
            _patch_rest()
            _patch_grpc()
            _installed.append(True)
    return True


SITECUSTOMIZE = '''"""Installed by the twin's test launch environment only (salesphere_tools/local/iamhook.py)."""
try:
    import iamhook

    iamhook.install()
except Exception as exc:  # the function must still start; the session check will notice
    import sys

    print(f"iamhook: not installed: {exc}", file=sys.stderr)
'''


def launch_environment(service: str, pythonpath: str | None = None) -> dict[str, str]:
    """Extra environment for a process the twin launches, so its calls are recorded.

    Empty unless this process records (:data:`ENV_FILE` set, as the test session does):
    then a folder holding only this module and a ``sitecustomize.py`` that installs it is
    put first on the child's ``PYTHONPATH`` (nothing else from the repository), and the
    child's calls are attributed to ``service``. ``pythonpath`` is the child's own
    ``PYTHONPATH``, kept after the hook folder.
    """
    record = os.environ.get(ENV_FILE)
    if not record:
        return {}
    hook_dir = Path(record).with_suffix(".hook")
    if not (hook_dir / "sitecustomize.py").exists():
        hook_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(__file__, hook_dir / "iamhook.py")
        (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    paths = [str(hook_dir)] + ([pythonpath] if pythonpath else [])
    return {ENV_FILE: record, ENV_SERVICE: service, "PYTHONPATH": os.pathsep.join(paths)}
