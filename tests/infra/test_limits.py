"""Time, memory and delivery limits: one definition, obeyed by every stack and the twin."""

from __future__ import annotations

from dataclasses import replace

import pytest

from infra.mocking import ProgramRun
from salesphere import limits, names

from .conftest import STACKS

SUB = "gcp:pubsub/subscription:Subscription"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
JOB = "gcp:cloudscheduler/job:Job"


def _seconds(text: str) -> int:
    assert text.endswith("s"), text
    return int(float(text[:-1]))


def test_the_limits_keep_every_rule() -> None:
    assert limits.violations() == []


def test_a_push_deadline_shorter_than_its_handler_is_reported(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    short = replace(limits.SUBSCRIPTIONS[names.SUB_EVENTS_SPEED], ack_deadline_s=60)
    monkeypatch.setitem(limits.SUBSCRIPTIONS, names.SUB_EVENTS_SPEED, short)
    assert any("redeliver while the first attempt" in v for v in limits.violations())


def test_a_scheduler_waiting_longer_than_the_function_lives_is_reported(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(
        limits.FUNCTIONS, limits.BATCH, replace(limits.FUNCTIONS[limits.BATCH], timeout_s=300)
    )
    assert any("scheduler waits 1800 s" in v for v in limits.violations())


def test_sizes_cloud_run_refuses_are_reported(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(
        limits.FUNCTIONS, limits.SPEED, limits.FunctionLimits(60, memory_mib=2048, cpu=0.583)
    )
    found = limits.violations()
    assert any("needs at least 1 vCPU" in v for v in found), found


def test_poison_files_are_quarantined_before_they_are_dead_lettered(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(limits, "FILE_MAX_ATTEMPTS", limits.MAX_DELIVERY_ATTEMPTS)
    assert any("quarantined, not dead-lettered" in v for v in limits.violations())


@pytest.mark.parametrize("stack", STACKS)
def test_functions_get_their_limits(runs: dict[str, ProgramRun], stack: str) -> None:
    deployed = {r.inputs["name"]: r.inputs["serviceConfig"] for r in runs[stack].of_type(FUNCTION)}
    for name, config in deployed.items():
        want = limits.FUNCTIONS[name]
        assert config["timeoutSeconds"] == want.timeout_s, name
        assert config["availableMemory"] == want.memory, name
        assert float(config["availableCpu"]) == want.cpu, name
        assert config["maxInstanceRequestConcurrency"] == want.concurrency, name


@pytest.mark.parametrize("stack", STACKS)
def test_push_is_never_redelivered_while_its_handler_runs(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    run = runs[stack]
    urls = {r.inputs["name"]: r for r in run.of_type(FUNCTION)}
    pushes = 0
    for sub in run.of_type(SUB):
        policy = limits.SUBSCRIPTIONS[sub.inputs["name"]]
        assert sub.inputs["ackDeadlineSeconds"] == policy.ack_deadline_s
        if "pushConfig" not in sub.inputs:
            continue
        pushes += 1
        target = policy.pushes_to
        assert target in urls, f"{sub.inputs['name']} pushes to {target}, not deployed"
        timeout = urls[target].inputs["serviceConfig"]["timeoutSeconds"]
        assert sub.inputs["ackDeadlineSeconds"] >= timeout
        assert sub.inputs["ackDeadlineSeconds"] <= limits.PUBSUB_MAX_ACK_DEADLINE_S
        dead = sub.inputs["deadLetterPolicy"]
        assert dead["maxDeliveryAttempts"] == limits.MAX_DELIVERY_ATTEMPTS
    assert pushes == 2  # speed and file drops


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_scheduler_never_waits_longer_than_the_function_lives(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    run = runs[stack]
    (job,) = run.of_type(JOB)
    batch = next(f for f in run.of_type(FUNCTION) if f.inputs["name"] == limits.BATCH)
    assert (
        _seconds(job.inputs["attemptDeadline"]) <= batch.inputs["serviceConfig"]["timeoutSeconds"]
    )


def test_a_crashed_runs_archive_messages_come_back_before_the_next_run_can_start() -> None:
    """A run that dies between pulling and acknowledging hands its chunk back (the ack
    deadline) before another run can take its lock over (the lease minus one renewal
    period), so the next run's drain sees every message and its cutoff hides none."""
    from salesphere import limits
    from salesphere.settings import Settings

    lease = Settings.batch_lock_lease_seconds
    archive = limits.SUBSCRIPTIONS["events-archive"]
    assert archive.ack_deadline_s == limits.ARCHIVE_ACK_DEADLINE_S
    assert archive.pushes_to is None  # pulled by the batch run
    assert lease - lease / 4 >= limits.ARCHIVE_ACK_DEADLINE_S
    assert Settings.batch_archive_lag_seconds > 0
