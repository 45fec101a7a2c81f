"""The real program, run for every stack: every layer and every named resource is there."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from infra.mocking import ProgramRun
from infra.settings import repo_root
from salesphere import names
from salesphere.warehouse.schemas import EVENT_CLUSTERING
from sql import view_files
from tests import REPO_ROOT

from .conftest import STACKS

LAYERS = {"foundation", "ingest", "speed", "batch", "serving"}
TOPIC = "gcp:pubsub/topic:Topic"
SUB = "gcp:pubsub/subscription:Subscription"
BUCKET = "gcp:storage/bucket:Bucket"
DATASET = "gcp:bigquery/dataset:Dataset"
TABLE = "gcp:bigquery/table:Table"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"


def _values(run: ProgramRun, type_: str, key: str) -> set[str]:
    return {r.inputs[key] for r in run.of_type(type_)}


@pytest.mark.parametrize("stack", STACKS)
def test_every_layer_is_a_component_with_children(runs: dict[str, ProgramRun], stack: str) -> None:
    run = runs[stack]
    components = {
        r.layer or r.name for r in run.resources if r.type.startswith("salesphere:infra:")
    }
    assert components == LAYERS
    for layer in LAYERS:
        assert any(r.layer == layer and r.type.startswith("gcp:") for r in run.resources), layer


@pytest.mark.parametrize("stack", STACKS)
def test_resource_names_come_from_names_module(runs: dict[str, ProgramRun], stack: str) -> None:
    run = runs[stack]
    project = run.by_name("dataset-master").inputs["project"]
    assert _values(run, TOPIC, "name") == set(names.TOPICS)
    assert _values(run, SUB, "name") == set(names.SUBSCRIPTIONS)
    assert _values(run, DATASET, "datasetId") == set(names.DATASETS)
    assert _values(run, BUCKET, "name") == set(names.bucket_names(project, stack).all)
    for sub in run.of_type(SUB):
        topic = names.SUBSCRIPTIONS[sub.inputs["name"]]
        assert sub.inputs["topic"] == f"projects/{project}/topics/{topic}"


@pytest.mark.parametrize("stack", STACKS)
def test_subscriptions_have_dead_letters_and_bounded_retention(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    for sub in runs[stack].of_type(SUB):
        inputs = sub.inputs
        assert inputs["messageRetentionDuration"].endswith("s")
        assert 0 < int(inputs["messageRetentionDuration"][:-1]) <= 7 * 86400
        audits = {audit for audit, _ in names.DEAD_LETTERS.values()} | {names.SUB_ALERTS_AUDIT}
        if inputs["name"] in audits:
            # Read by people and tools: nothing fails on a message, nothing to park.
            assert "deadLetterPolicy" not in inputs
        else:
            # File notifications park apart from envelopes: each replays to its own topic.
            parked = (
                names.TOPIC_FILE_DROPS_DEAD_LETTER
                if inputs["name"] == names.SUB_FILE_DROPS_INGEST
                else names.TOPIC_EVENTS_DEAD_LETTER
            )
            assert inputs["deadLetterPolicy"]["deadLetterTopic"].endswith(f"/topics/{parked}")


@pytest.mark.parametrize("stack", ("dev", "prod", "pr-7"))
def test_archive_subscription_is_pulled_by_the_batch_run(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    """events-archive is a plain pull subscription drained by the batch run, updated in
    place: the same URN, name and topic it had as a Cloud Storage subscription, so
    Pulumi changes it instead of replacing it (a replacement would drop its backlog)."""
    run = runs[stack]
    archive = run.by_name(f"sub-{names.SUB_EVENTS_ARCHIVE}")
    assert archive.urn == (
        f"urn:pulumi:{stack}::salesphere::salesphere:infra:Foundation$"
        f"gcp:pubsub/subscription:Subscription::sub-{names.SUB_EVENTS_ARCHIVE}"
    )
    assert archive.inputs["name"] == names.SUB_EVENTS_ARCHIVE
    assert archive.inputs["topic"].endswith(f"/topics/{names.TOPIC_EVENTS}")
    assert "cloudStorageConfig" not in archive.inputs and "pushConfig" not in archive.inputs
    project = f"salesphere-{stack}" if stack != "pr-7" else archive.inputs["project"]
    batch = f"serviceAccount:batch-fn@{project}.iam.gserviceaccount.com"
    drains = run.by_name("batch-drains-archive-subscription").inputs
    assert drains == {
        "member": batch,
        "subscription": names.SUB_EVENTS_ARCHIVE,
        "project": project,
        "role": "roles/pubsub.subscriber",
    }
    archive_bucket = run.by_name("bucket-archive").inputs["name"]
    on_archive = {
        (r.inputs["member"], r.inputs["role"])
        for r in run.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
        if r.inputs["bucket"] == archive_bucket
    }
    # Only the batch run reads and creates archive objects; Pub/Sub's agent writes none.
    assert {member for member, _ in on_archive} == {batch}
    assert {role for _, role in on_archive} == {
        "roles/storage.objectViewer",
        "roles/storage.objectCreator",
    }
    rules = run.by_name("bucket-archive").inputs["lifecycleRules"]
    classes = [rule["action"].get("storageClass") for rule in rules]
    assert classes == ["NEARLINE", "COLDLINE"]


def test_push_subscriptions_call_their_functions_with_oidc(runs: dict[str, ProgramRun]) -> None:
    run = runs["dev"]
    for sub_name, fn_name in (("events-speed", "speed"), ("file-drops-ingest", "ingest-files")):
        push = run.by_name(f"sub-{sub_name}").inputs["pushConfig"]
        assert push["pushEndpoint"].startswith(f"https://{fn_name}-")
        assert push["oidcToken"]["audience"] == push["pushEndpoint"]
        assert push["oidcToken"]["serviceAccountEmail"].startswith("pubsub-push@")


@pytest.mark.parametrize("stack", STACKS)
def test_buckets_private_uniform_and_in_a_free_region(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    for bucket in runs[stack].of_type(BUCKET):
        assert bucket.inputs["uniformBucketLevelAccess"] is True
        assert bucket.inputs["publicAccessPrevention"] == "enforced"
        assert bucket.inputs["location"] in {"US-CENTRAL1", "US-EAST1", "US-WEST1"}


def test_event_tables_partitioned_by_receive_day_and_clustered(runs: dict[str, ProgramRun]) -> None:
    run = runs["prod"]
    for name in ("table-master-events", "table-speed-events"):
        table = run.by_name(name).inputs
        assert table["timePartitioning"]["type"] == "DAY"
        assert table["timePartitioning"]["field"] == "received_at"
        assert table["clusterings"] == list(EVENT_CLUSTERING)
        columns = {f["name"]: f["type"] for f in json.loads(table["schema"])}
        assert columns["received_at"] == "TIMESTAMP"
        assert columns["unit_price"] == "NUMERIC"
        assert columns["quantity"] == "INT64"
        assert columns["event_id"] == "STRING"
    tables = {(r.inputs["datasetId"], r.inputs["tableId"]) for r in run.of_type(TABLE)}
    assert {("speed", "stock_alerts"), ("speed", "dead_letters"), ("ops", "rejects")} <= tables


@pytest.mark.parametrize("stack", STACKS)
def test_functions_bundle_their_service_and_the_library(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    run = runs[stack]
    entry_points = {
        r.inputs["name"]: r.inputs["buildConfig"]["entryPoint"] for r in run.of_type(FUNCTION)
    }
    assert entry_points == {
        "ingest-http": "ingest_http",
        "ingest-files": "ingest_file",
        "speed": "speed_push",
        "batch": "batch_http",
    }
    objects = {r.inputs["name"] for r in run.of_type("gcp:storage/bucketObject:BucketObject")}
    for fn in run.of_type(FUNCTION):
        obj = fn.inputs["buildConfig"]["source"]["storageSource"]["object"]
        assert obj in objects
        env = fn.inputs["serviceConfig"]["environmentVariables"]
        assert env["SALESPHERE_ENV"] == stack
    source = run.by_name("source-ingest").inputs["source"]
    with zipfile.ZipFile(source.path) as archive:
        shipped = set(archive.namelist())
    assert "salesphere/model.py" in shipped and "salesphere/envelope.py" in shipped


def test_serving_views_match_the_sql_files(runs: dict[str, ProgramRun]) -> None:
    files = {p.stem for p in view_files()}
    for run in runs.values():
        views = {r.inputs["tableId"] for r in run.of_type(TABLE) if r.inputs.get("view")}
        assert views == files


def test_hmac_secret_is_always_mounted_in_both_ingest_functions(
    runs: dict[str, ProgramRun],
) -> None:
    """Fail closed: ingest never deploys without its keys (it refuses to start then)."""
    import pytest

    from infra.mocking import run_program
    from infra.settings import SettingsError

    expected = {
        "key": "SALESPHERE_HMAC_KEYS",
        "projectId": "salesphere-dev",
        "secret": "ingest-hmac-keys",
        "version": "latest",
    }
    for fn in ("fn-ingest-http", "fn-ingest-files"):
        config = runs["dev"].by_name(fn).inputs["serviceConfig"]
        assert config["secretEnvironmentVariables"] == [expected]
    pinned = run_program("dev", {"salesphere:hmac_secret_version": "3"})
    config = pinned.by_name("fn-ingest-http").inputs["serviceConfig"]
    assert config["secretEnvironmentVariables"] == [{**expected, "version": "3"}]
    for fn in ("fn-speed", "fn-batch"):  # only ingest reads the keys
        assert not runs["dev"].by_name(fn).inputs["serviceConfig"].get("secretEnvironmentVariables")
    with pytest.raises(SettingsError, match="hmac_secret_version is empty"):
        run_program("dev", {"salesphere:hmac_secret_version": ""})


def test_stack_files_exist_for_long_lived_stacks_only() -> None:
    root = Path(repo_root())
    assert {p.name for p in root.glob("Pulumi.*.yaml")} == {
        "Pulumi.dev.yaml",
        "Pulumi.staging.yaml",
        "Pulumi.prod.yaml",
    }


def test_speed_function_runs_one_instance_the_others_scale(runs: dict[str, ProgramRun]) -> None:
    """The speed function's process memory must be the only writer's (docs/speed.md)."""
    prod = runs["prod"]
    count = {
        fn.name: fn.inputs["serviceConfig"]["maxInstanceCount"]
        for fn in prod.of_type("gcp:cloudfunctionsv2/function:Function")
    }
    assert count.pop("fn-speed") == 1
    assert set(count.values()) == {10}  # Pulumi.prod.yaml's function_max_instances


def test_the_resource_counts_in_the_docs_are_the_programs(runs: dict[str, ProgramRun]) -> None:
    """docs/infra.md tells an engineer what `pulumi up` will create; it must stay true."""
    import re

    text = " ".join((REPO_ROOT / "docs/infra.md").read_text().split())
    found = re.search(
        r"with the (\d+) serving views .*?: dev (\d+) resources, staging (\d+), "
        r"prod (\d+) \((\d+) protected\), pr-7 (\d+)",
        text,
    )
    assert found, "docs/infra.md lost its resource-count sentence"
    views, dev, staging, prod, protected, pr = map(int, found.groups())
    assert views == len(view_files())
    assert (dev, staging, prod, pr) == tuple(
        len(runs[s].resources) for s in ("dev", "staging", "prod", "pr-7")
    )
    assert protected == sum(r.protect for r in runs["prod"].resources)


def test_table_descriptions_do_not_name_the_checkout(runs: dict[str, ProgramRun]) -> None:
    """A description with the absolute path would differ on every machine that deploys."""
    root = str(repo_root())
    described = [t.inputs.get("description", "") for t in runs["dev"].of_type(TABLE)]
    assert described and not [d for d in described if root in d or "/work/" in d]
    assert any("(schema: salesphere/sql/tables/" in d for d in described)


def test_the_speed_layer_keeps_its_deployed_urns(runs: dict[str, ProgramRun]) -> None:
    """The layer is called speed everywhere, but its component keeps the type and name it
    was deployed with: a new URN would make `pulumi up` replace every resource below it
    (the speed tables with their data). Same URNs, nothing replaced."""
    from infra import speed

    for run in runs.values():
        speed_layer = [r for r in run.resources if r.layer == speed.LAYER]
        assert speed_layer, "no resource belongs to the speed layer"
        for resource in speed_layer:
            chain = resource.urn.split("::")[2]
            assert chain.split("$")[0] == speed.DEPLOYED_TYPE, resource.urn
        component = [r for r in run.resources if r.type == speed.DEPLOYED_TYPE]
        assert [r.name for r in component] == [speed.DEPLOYED_NAME]
        events = run.by_name("table-speed-events")
        assert events.inputs["labels"]["layer"] == speed.LAYER  # labels change in place
