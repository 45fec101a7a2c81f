"""Turn recorded Google API calls into IAM permissions on logical resources.

``salesphere_tools.local.iamhook`` writes one JSON line per Cloud Storage, BigQuery or
Pub/Sub call a service makes during the twin suites. This module maps each call to the
IAM permission(s) Google checks for it and to the resource it is checked on, named
independently of the project and environment so one reviewed file
(``infra/iam_recorded.json``) serves every stack:

``project`` · ``bucket:<landing|quarantine|archive|artifacts>`` · ``dataset:<id>`` ·
``table:<dataset>.<table>`` · ``topic:<name>`` · ``subscription:<name>`` · ``secret:<id>``

The mapping follows Google's per-method permission tables (Cloud Storage "IAM permissions
for JSON methods", BigQuery "Access control with IAM" / "Predefined roles and
permissions", Pub/Sub "Access control"). BigQuery jobs need ``bigquery.jobs.create`` in
the project plus a permission on every table they touch: tables a statement reads
(``salesphere.sqlrefs.references``; a serving view also needs its own underlying tables)
need ``tables.getData``, tables it writes need ``tables.updateData`` (``tables.create``
/ ``tables.delete`` for DDL); a load job also reads its ``gs://`` sources with the
caller's own Cloud Storage permissions. An upload that may overwrite an object
(no ``ifGenerationMatch=0``) needs ``storage.objects.delete`` besides ``create``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from salesphere import names, sqlrefs
from sql import VIEW_DIRS

Permission = tuple[str, str]  # (permission, logical resource)
#: Service -> the service account it runs as (``functions.service_account`` ids).
SERVICE_ACCOUNTS = {
    "ingest-http": "ingest-fn",
    "ingest-files": "ingest-fn",
    "speed": "speed-fn",
    "speed-pipeline": "speed-fn",
    "batch": "batch-fn",
}


class UnknownCall(ValueError):
    """A recorded call this module cannot map: extend :func:`permissions_for`."""


def bucket_key(bucket: str, project: str, env: str) -> str:
    """``salesphere-local-landing`` -> ``bucket:landing`` (the ``BucketNames`` field)."""
    buckets = names.bucket_names(project, env)
    for f in fields(buckets):
        if getattr(buckets, f.name) == bucket:
            return f"bucket:{f.name}"
    return f"bucket:{bucket}"


def _tail(resource_path: str) -> str:
    return resource_path.rsplit("/", 1)[-1]


def _unqualified(statement: exp.Expression) -> str:
    for table in statement.find_all(exp.Table):
        if table.catalog:
            table.set("catalog", None)
    return statement.sql(dialect=sqlrefs.DIALECT)


def view_tables(table: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """A serving view and, recursively, every table it reads (queries need all of them)."""
    dataset, name = table.split(".", 1)
    found = {table}
    path = next((d / f"{name}.sql" for d in VIEW_DIRS if (d / f"{name}.sql").exists()), None)
    if dataset != names.DATASET_SERVING or table in seen or path is None:
        return found
    for ds, t in sqlrefs.references(path.read_text(), str(path)):
        found |= view_tables(f"{ds}.{t}", seen | {table})
    return found


def sql_permissions(sql: str) -> set[Permission]:
    """Table permissions one query job's SQL (a script too) needs."""
    out: set[Permission] = set()
    for statement in sqlglot.parse(sql, read=sqlrefs.DIALECT):
        if statement is None:
            continue
        text = _unqualified(statement)
        try:
            reads = sqlrefs.references(text)
        except sqlrefs.SqlRefError:
            reads = set()
        for ds, t in reads:
            for table in view_tables(f"{ds}.{t}"):
                out.add(("bigquery.tables.getData", f"table:{table}"))
        out |= _write_permissions(statement)
    return out


_WRITES = (
    exp.Insert | exp.Delete | exp.Update | exp.Merge | exp.Create | exp.Drop | exp.TruncateTable
)


def _write_permissions(statement: exp.Expression) -> set[Permission]:
    """The permission a DML/DDL statement needs on the table it writes."""
    target = statement.find(exp.Table) if isinstance(statement, _WRITES) else None
    if target is None or target.db not in names.DATASETS:
        return set()
    resource = f"table:{target.db}.{target.name}"
    if isinstance(statement, exp.Create):
        out = {("bigquery.tables.create", resource)}
        if statement.expression is not None:  # CREATE TABLE ... AS SELECT writes rows
            out.add(("bigquery.tables.updateData", resource))
        return out
    if isinstance(statement, exp.Drop):
        return {("bigquery.tables.delete", resource)}
    return {("bigquery.tables.updateData", resource)}


def _job(entry: dict[str, Any]) -> set[Permission]:
    """A new job: run it in the project, plus what it reads and writes."""
    out = {("bigquery.jobs.create", "project")}
    if entry.get("query"):
        out |= sql_permissions(entry["query"])
    for key in ("destinationTable",):
        if entry.get(key):
            out.add(("bigquery.tables.updateData", f"table:{entry[key]}"))
            if entry.get("createDisposition") == "CREATE_IF_NEEDED":
                out.add(("bigquery.tables.create", f"table:{entry[key]}"))
    for table in entry.get("sourceTables", []) + (
        [entry["sourceTable"]] if entry.get("sourceTable") else []
    ):
        out.add(("bigquery.tables.getData", f"table:{table}"))
    for uri in entry.get("sourceUris", []):
        bucket = uri.removeprefix("gs://").split("/", 1)[0]
        out.add(("storage.objects.get", f"gcs:{bucket}"))
        if "*" in uri:
            out.add(("storage.objects.list", f"gcs:{bucket}"))
    return out


def _bigquery(entry: dict[str, Any]) -> set[Permission]:
    method, path = entry["method"], entry["path"]
    if re.fullmatch(r"projects/[^/]+/(jobs|queries)", path) and method == "POST":
        return _job(entry)
    # A job's creator may read its status and results and cancel it: no other permission.
    if re.fullmatch(r"projects/[^/]+/(jobs|queries)/[^/]+(/cancel)?", path):
        return {("bigquery.jobs.create", "project")}
    table = re.fullmatch(r"projects/[^/]+/datasets/([^/]+)/tables/([^/]+)(/insertAll|/data)?", path)
    if table:
        resource = f"table:{table.group(1)}.{table.group(2)}"
        if table.group(3) == "/insertAll":
            return {("bigquery.tables.updateData", resource)}
        if table.group(3) == "/data":
            return {("bigquery.tables.getData", resource)}
        verb = {"GET": "get", "DELETE": "delete", "PATCH": "update", "PUT": "update"}[method]
        return {(f"bigquery.tables.{verb}", resource)}
    tables = re.fullmatch(r"projects/[^/]+/datasets/([^/]+)/tables", path)
    if tables:
        verb = "create" if method == "POST" else "list"
        return {(f"bigquery.tables.{verb}", f"dataset:{tables.group(1)}")}
    dataset = re.fullmatch(r"projects/[^/]+/datasets/([^/]+)", path)
    if dataset:
        verb = {"GET": "get", "DELETE": "delete", "PATCH": "update", "PUT": "update"}[method]
        return {(f"bigquery.datasets.{verb}", f"dataset:{dataset.group(1)}")}
    if re.fullmatch(r"projects/[^/]+/datasets", path):
        return {(f"bigquery.datasets.{'create' if method == 'POST' else 'list'}", "project")}
    raise UnknownCall(f"BigQuery {method} {path}")


def _writes(bucket: str, entry: dict[str, Any]) -> set[Permission]:
    out = {("storage.objects.create", bucket)}
    if entry.get("ifGenerationMatch") != "0":  # may replace an existing object
        out.add(("storage.objects.delete", bucket))
    return out


def _storage(entry: dict[str, Any]) -> set[Permission]:
    method, path = entry["method"], entry["path"]
    if path == "b":
        return {(f"storage.buckets.{'create' if method == 'POST' else 'list'}", "project")}
    found = re.fullmatch(r"b/([^/]+)(?:/o(?:/(.*))?)?", path)
    if found is None:
        raise UnknownCall(f"Cloud Storage {method} {path}")
    bucket, obj = f"gcs:{found.group(1)}", found.group(2)
    if "/o" not in path:
        return {("storage.buckets.get", bucket)}
    if obj is None:
        return _writes(bucket, entry) if method == "POST" else {("storage.objects.list", bucket)}
    copy = re.fullmatch(r"(.*)/(?:copyTo|rewriteTo)/b/([^/]+)/o/(.*)", obj)
    if copy:
        return {("storage.objects.get", bucket)} | _writes(f"gcs:{copy.group(2)}", entry)
    if obj.endswith("/compose"):
        return {("storage.objects.get", bucket)} | _writes(bucket, entry)
    verb = {"GET": "get", "DELETE": "delete", "PATCH": "update", "PUT": "update"}[method]
    return {(f"storage.objects.{verb}", bucket)}


PUBSUB = {
    "Publish": ("pubsub.topics.publish", "topic"),
    "GetTopic": ("pubsub.topics.get", "topic"),
    "Pull": ("pubsub.subscriptions.consume", "subscription"),
    "StreamingPull": ("pubsub.subscriptions.consume", "subscription"),
    "Acknowledge": ("pubsub.subscriptions.consume", "subscription"),
    "ModifyAckDeadline": ("pubsub.subscriptions.consume", "subscription"),
    "Seek": ("pubsub.subscriptions.consume", "subscription"),
    "GetSubscription": ("pubsub.subscriptions.get", "subscription"),
}


def _pubsub(entry: dict[str, Any]) -> set[Permission]:
    method = entry["method"].rsplit("/", 1)[-1]  # "Publisher/Publish"
    if method not in PUBSUB:
        raise UnknownCall(f"Pub/Sub {method}")
    permission, kind = PUBSUB[method]
    name = entry.get(kind) or entry.get("name") or ""
    return {(permission, f"{kind}:{_tail(name)}")}


#: Tables a run creates and drops under a per-run name: one logical resource for all.
PER_RUN_TABLES = re.compile(r"^(table:[a-z_]+\._staging)_.+$")


def _logical(resource: str, project: str, env: str) -> str:
    if resource.startswith("gcs:"):
        return bucket_key(resource.removeprefix("gcs:"), project, env)
    return PER_RUN_TABLES.sub(r"\1_*", resource)


def permissions_for(entry: dict[str, Any], project: str, env: str) -> set[Permission]:
    """The permissions one recorded call needs, on logical resources."""
    mapper = {"bigquery": _bigquery, "storage": _storage, "pubsub": _pubsub}[entry["api"]]
    return {(permission, _logical(r, project, env)) for permission, r in mapper(entry)}


def read_log(path: Path) -> list[dict[str, Any]]:
    """Every recorded call (the file may not exist when nothing was recorded)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def summarize(
    entries: Iterable[dict[str, Any]], project: str, env: str
) -> dict[str, dict[Permission, set[str]]]:
    """service -> {(permission, resource): the API calls that needed it}."""
    out: dict[str, dict[Permission, set[str]]] = defaultdict(lambda: defaultdict(set))
    for entry in entries:
        if entry.get("optional"):  # tolerated-403 library internals (iamhook.OPTIONAL_CALLERS)
            continue
        call = f"{entry['api']} {entry['method']}"
        if entry.get("job"):
            call += f" {entry['job']} job"
        for perm in permissions_for(entry, project, env):
            out[entry["service"]][perm].add(call)
    return out


def to_document(summary: dict[str, dict[Permission, set[str]]]) -> dict[str, Any]:
    """The reviewed file's ``recorded`` section: sorted, one object per permission."""
    return {
        service: [
            {"permission": p, "resource": r, "calls": sorted(calls)}
            for (p, r), calls in sorted(perms.items(), key=lambda kv: (kv[0][1], kv[0][0]))
        ]
        for service, perms in sorted(summary.items())
    }


def unrecorded(
    entries: Iterable[dict[str, Any]], document: dict[str, Any], project: str, env: str
) -> dict[str, list[Permission]]:
    """service -> permissions observed in ``entries`` that the reviewed file lacks."""
    known = committed(document)
    out = {}
    for service, perms in summarize(entries, project, env).items():
        new = sorted(set(perms) - known.get(service, set()))
        if new:
            out[service] = new
    return out


def committed(document: dict[str, Any], section: str = "recorded") -> dict[str, set[Permission]]:
    """service -> {(permission, resource)} from the reviewed file."""
    return {
        service: {(op["permission"], op["resource"]) for op in ops}
        for service, ops in document.get(section, {}).items()
    }
