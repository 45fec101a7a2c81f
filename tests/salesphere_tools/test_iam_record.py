"""Recorded API calls map to the IAM permissions Google checks, and new ones are caught."""

from __future__ import annotations

import json
from pathlib import Path

from salesphere_tools import iam_record
from salesphere_tools.local import iamhook
from tests import REPO_ROOT

RECORDED = REPO_ROOT / "infra" / "iam_recorded.json"


def _perms(entry: dict) -> set[tuple[str, str]]:
    return iam_record.permissions_for(entry, "salesphere", "local")


def test_query_jobs_need_getdata_on_what_they_read_and_updatedata_on_what_they_write() -> None:
    sql = (
        "DELETE FROM `salesphere.batch.cutoff` WHERE TRUE;\n"
        "INSERT INTO batch.cutoff SELECT MAX(e.received_at) FROM master.events AS e"
    )
    got = _perms({"api": "bigquery", "method": "POST", "path": "projects/p/jobs", "query": sql})
    assert got == {
        ("bigquery.jobs.create", "project"),
        ("bigquery.tables.getData", "table:batch.cutoff"),
        ("bigquery.tables.getData", "table:master.events"),
        ("bigquery.tables.updateData", "table:batch.cutoff"),
    }


def test_uploads_that_may_overwrite_need_delete_and_load_jobs_read_their_sources() -> None:
    upload = {"api": "storage", "method": "POST", "mode": "upload", "path": "b/x/o"}
    bucket = "bucket:quarantine"
    assert _perms({**upload, "path": "b/salesphere-local-quarantine/o"}) == {
        ("storage.objects.create", bucket),
        ("storage.objects.delete", bucket),
    }
    only_new = {**upload, "path": "b/salesphere-local-quarantine/o", "ifGenerationMatch": "0"}
    assert _perms(only_new) == {("storage.objects.create", bucket)}
    load = {
        "api": "bigquery",
        "method": "POST",
        "path": "projects/p/jobs",
        "job": "load",
        "destinationTable": "batch._staging_run_1",
        "sourceUris": ["gs://salesphere-local-artifacts/batch/staging/run-1/part.parquet"],
    }
    assert _perms(load) == {
        ("bigquery.jobs.create", "project"),
        ("bigquery.tables.updateData", "table:batch._staging_*"),
        ("storage.objects.get", "bucket:artifacts"),
    }


def test_a_permission_missing_from_the_reviewed_file_is_reported() -> None:
    document = json.loads(RECORDED.read_text())
    known = {
        "service": "speed",
        "api": "pubsub",
        "method": "Publisher/Publish",
        "topic": "projects/salesphere/topics/alerts",
    }
    assert iam_record.unrecorded([known], document, "salesphere", "local") == {}
    new = {**known, "topic": "projects/salesphere/topics/events"}
    assert iam_record.unrecorded([new], document, "salesphere", "local") == {
        "speed": [("pubsub.topics.publish", "topic:events")]
    }
    optional = {**new, "optional": "library cache"}
    assert iam_record.unrecorded([optional], document, "salesphere", "local") == {}


def test_the_launch_environment_records_only_when_the_session_does(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.delenv(iamhook.ENV_FILE, raising=False)
    assert iamhook.launch_environment("speed", "/x") == {}
    monkeypatch.setenv(iamhook.ENV_FILE, str(tmp_path / "calls.jsonl"))
    env = iamhook.launch_environment("speed", "/x")
    hook = Path(env["PYTHONPATH"].split(":")[0])
    assert env[iamhook.ENV_SERVICE] == "speed" and env["PYTHONPATH"].endswith(":/x")
    assert sorted(p.name for p in hook.iterdir()) == ["iamhook.py", "sitecustomize.py"]
