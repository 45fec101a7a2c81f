"""How long each deployed piece may run, what it is given, and how its deliveries retry.

One definition that the Pulumi program and the local twin both read, so a timeout, an ack
deadline and a scheduler deadline cannot drift apart. The rules tying them together are
checked by :func:`violations` (run by the tests and ``salesphere infra check``):

* a Pub/Sub push is never redelivered while its handler may still run: each push
  subscription's ack deadline covers its function's timeout;
* Cloud Scheduler never waits longer than the batch function lives;
* a poison file is quarantined before Pub/Sub gives up on its notification;
* every size is one Cloud Run accepts (below 1 vCPU: at most 512 MiB under 0.5 vCPU and
  at most 1 GiB under 1 vCPU, and one request at a time).

Platform ceilings are Google's published limits (Pub/Sub ack deadline 600 s; Cloud
Functions 2nd gen: 3600 s for HTTP functions, 540 s for event-driven ones; Cloud Scheduler
HTTP attempt deadline 15 s .. 30 min).
"""

from __future__ import annotations

from dataclasses import dataclass

from salesphere import names

PUBSUB_MAX_ACK_DEADLINE_S = 600
HTTP_FUNCTION_MAX_TIMEOUT_S = 3600
SCHEDULER_MIN_ATTEMPT_DEADLINE_S = 15
SCHEDULER_MAX_ATTEMPT_DEADLINE_S = 1800
#: Seconds a push may spend in transit and cold start on top of the handler's own timeout.
PUSH_MARGIN_S = 30
#: How long the batch run may hold a chunk of the archive subscription's messages between
#: pulling and acknowledging them (salesphere.batch.archive): pulling a 32 MB chunk and
#: writing it takes seconds. A run that dies holding a chunk gives it back after this
#: long, which is sooner than the next run can take its lock over (the lease, 120 s, minus
#: one renewal period), so that run's drain sees every message (tests/infra/test_limits.py).
ARCHIVE_ACK_DEADLINE_S = 60


@dataclass(frozen=True)
class FunctionLimits:
    """What Cloud Functions gives one function: time, memory, CPU, concurrency."""

    timeout_s: int
    memory_mib: int
    cpu: float
    #: Requests one instance serves at once (Cloud Run requires 1 below one vCPU).
    concurrency: int = 1

    @property
    def memory(self) -> str:
        """The size as Cloud Functions spells it (``512Mi``)."""
        return f"{self.memory_mib}Mi"

    @property
    def cpu_text(self) -> str:
        return f"{self.cpu:g}"


@dataclass(frozen=True)
class DeliveryPolicy:
    """How Pub/Sub delivers one subscription's messages and when it gives up."""

    ack_deadline_s: int
    #: Redelivery backoff after a failed attempt: short, because a fresh speed layer is the
    #: point; capped at a minute so a recovered consumer catches up within a minute.
    min_backoff_s: int = 5
    max_backoff_s: int = 60
    #: Attempts before a message is forwarded to ``dead_letter_topic`` (None: never).
    max_delivery_attempts: int | None = None
    dead_letter_topic: str | None = None
    #: The function this subscription pushes to, if it is a push subscription.
    pushes_to: str | None = None


INGEST_HTTP = "ingest-http"
INGEST_FILES = "ingest-files"
SPEED = "speed"
BATCH = "batch"

#: Measured peak memory (MiB) each size is derived from, with 2x headroom; see
#: docs/benchmarks.md for the runs (file ingest: the XLSX path; batch: the batch function
#: process on a day of 10,000 orders and on one 100 MB archive file).
MEASURED_PEAK_MIB = {INGEST_FILES: 242, BATCH: 650}

FUNCTIONS: dict[str, FunctionLimits] = {
    # A POS waits on the answer: a batch of 5,000 records is validated in well under 10 s.
    INGEST_HTTP: FunctionLimits(timeout_s=60, memory_mib=256, cpu=0.167),
    # One spreadsheet or export per request; large XLSX files take the longest.
    INGEST_FILES: FunctionLimits(timeout_s=300, memory_mib=512, cpu=0.333),
    # One envelope of at most 500 events per push.
    SPEED: FunctionLimits(timeout_s=120, memory_mib=256, cpu=0.167),
    # The whole batch layer in process: archive -> master -> batch views. Above 1 GiB
    # Cloud Run needs a whole vCPU.
    BATCH: FunctionLimits(timeout_s=1800, memory_mib=2048, cpu=1),
}

#: Redeliveries before a message a consumer keeps failing is parked on the dead-letter topic.
MAX_DELIVERY_ATTEMPTS = 5
#: Deliveries of one file notification before ingest quarantines the file instead of
#: failing again (below MAX_DELIVERY_ATTEMPTS, so the quarantine always happens first).
FILE_MAX_ATTEMPTS = 3


def _push(function: str, dead_letter_topic: str) -> DeliveryPolicy:
    return DeliveryPolicy(
        ack_deadline_s=min(
            PUBSUB_MAX_ACK_DEADLINE_S, FUNCTIONS[function].timeout_s + PUSH_MARGIN_S
        ),
        max_delivery_attempts=MAX_DELIVERY_ATTEMPTS,
        dead_letter_topic=dead_letter_topic,
        pushes_to=function,
    )


SUBSCRIPTIONS: dict[str, DeliveryPolicy] = {
    names.SUB_EVENTS_SPEED: _push(SPEED, names.TOPIC_EVENTS_DEAD_LETTER),
    names.SUB_FILE_DROPS_INGEST: _push(INGEST_FILES, names.TOPIC_FILE_DROPS_DEAD_LETTER),
    # A pull subscription drained by each batch run (salesphere.batch.archive), in cloud
    # and in the twin alike; envelopes that runs keep failing to archive are parked with
    # the other undelivered envelopes (replayable) before retention would drop them.
    names.SUB_EVENTS_ARCHIVE: DeliveryPolicy(
        ack_deadline_s=ARCHIVE_ACK_DEADLINE_S,
        max_delivery_attempts=MAX_DELIVERY_ATTEMPTS,
        dead_letter_topic=names.TOPIC_EVENTS_DEAD_LETTER,
    ),
    # Read by people and tools; nothing to fail on, so nothing to dead-letter.
    names.SUB_DEAD_LETTER_AUDIT: DeliveryPolicy(ack_deadline_s=60),
    names.SUB_ALERTS_AUDIT: DeliveryPolicy(ack_deadline_s=60),
    names.SUB_FILE_DROPS_DEAD_LETTER_AUDIT: DeliveryPolicy(ack_deadline_s=60),
}


@dataclass(frozen=True)
class SchedulePolicy:
    """The Cloud Scheduler job that starts a batch run."""

    attempt_deadline_s: int
    retry_count: int = 1


#: Scheduler waits as long as the batch function may run, and no longer.
SCHEDULE = SchedulePolicy(
    attempt_deadline_s=min(SCHEDULER_MAX_ATTEMPT_DEADLINE_S, FUNCTIONS[BATCH].timeout_s)
)


def _function_violations() -> list[str]:
    out: list[str] = []
    for name, fn in FUNCTIONS.items():
        if fn.timeout_s > HTTP_FUNCTION_MAX_TIMEOUT_S:
            out.append(f"{name}: timeout {fn.timeout_s} s exceeds Cloud Functions' 3600 s")
        if fn.cpu < 0.5 and fn.memory_mib > 512:
            out.append(f"{name}: {fn.memory} needs at least 0.5 vCPU (has {fn.cpu_text})")
        if fn.cpu < 1 and fn.memory_mib > 1024:
            out.append(f"{name}: {fn.memory} needs at least 1 vCPU (has {fn.cpu_text})")
        if fn.cpu < 1 and fn.concurrency != 1:
            out.append(f"{name}: below 1 vCPU Cloud Run serves one request at a time")
        measured = MEASURED_PEAK_MIB.get(name, 0)
        if fn.memory_mib < 2 * measured:
            out.append(
                f"{name}: {fn.memory} is less than twice its measured peak of {measured} MiB"
            )
    return out


def _delivery_violations() -> list[str]:
    out: list[str] = []
    for sub, policy in SUBSCRIPTIONS.items():
        if policy.ack_deadline_s > PUBSUB_MAX_ACK_DEADLINE_S:
            out.append(f"{sub}: ack deadline {policy.ack_deadline_s} s exceeds Pub/Sub's 600 s")
        if policy.pushes_to is not None:
            timeout = FUNCTIONS[policy.pushes_to].timeout_s
            if policy.ack_deadline_s < timeout:
                out.append(
                    f"{sub}: ack deadline {policy.ack_deadline_s} s is shorter than "
                    f"{policy.pushes_to}'s timeout {timeout} s, so Pub/Sub would redeliver "
                    "while the first attempt still runs: lower the timeout"
                )
        if (policy.max_delivery_attempts is None) != (policy.dead_letter_topic is None):
            out.append(f"{sub}: a dead-letter topic needs a maximum number of attempts")
    if not FILE_MAX_ATTEMPTS < MAX_DELIVERY_ATTEMPTS:
        out.append(
            f"FILE_MAX_ATTEMPTS ({FILE_MAX_ATTEMPTS}) must be below MAX_DELIVERY_ATTEMPTS "
            f"({MAX_DELIVERY_ATTEMPTS}) so a poison file is quarantined, not dead-lettered"
        )
    return out


def _schedule_violations() -> list[str]:
    deadline, lives = SCHEDULE.attempt_deadline_s, FUNCTIONS[BATCH].timeout_s
    out: list[str] = []
    if not SCHEDULER_MIN_ATTEMPT_DEADLINE_S <= deadline <= SCHEDULER_MAX_ATTEMPT_DEADLINE_S:
        out.append(f"scheduler attempt deadline {deadline} s is outside 15..1800 s")
    if deadline > lives:
        out.append(f"scheduler waits {deadline} s but the batch function lives {lives} s")
    return out


def violations() -> list[str]:
    """Every broken rule among the limits above, as sentences that say what to change."""
    return _function_violations() + _delivery_violations() + _schedule_violations()
