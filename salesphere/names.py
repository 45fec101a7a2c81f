"""The platform's resource names, defined once.

The local twin creates exactly these topics, subscriptions, buckets and datasets, and the
Pulumi program provisions exactly these in cloud, so a name can never drift between the
laptop and production. Bucket names are global in GCS, so they carry the project and
environment; everything else is scoped by its project already.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Pub/Sub topics
TOPIC_EVENTS = "events"  # accepted envelopes from ingest
TOPIC_ALERTS = "alerts"  # stock alerts from the speed layer
TOPIC_EVENTS_DEAD_LETTER = "events-dead-letter"  # envelopes the speed layer could not take
TOPIC_QUARANTINE = "quarantine"  # rejects, with reasons (also written to the quarantine bucket)
TOPIC_FILE_DROPS = "file-drops"  # object-finalize notifications from the landing bucket
# file notifications the file ingest could not take: parked apart from envelopes, because
# replaying one means notifying ingest of the file again, not republishing events
TOPIC_FILE_DROPS_DEAD_LETTER = "file-drops-dead-letter"

# Pub/Sub subscriptions: name -> topic
SUB_EVENTS_SPEED = "events-speed"  # speed layer (function push or Beam pull)
SUB_EVENTS_ARCHIVE = "events-archive"  # writes the master dataset (GCS archive)
SUB_FILE_DROPS_INGEST = "file-drops-ingest"  # file-drop ingest function
SUB_DEAD_LETTER_AUDIT = "events-dead-letter-audit"  # keeps dead letters for inspection
SUB_ALERTS_AUDIT = "alerts-audit"  # lets tests, the demo and managers read alerts
SUB_FILE_DROPS_DEAD_LETTER_AUDIT = "file-drops-dead-letter-audit"  # parked file notifications

SUBSCRIPTIONS: dict[str, str] = {
    SUB_EVENTS_SPEED: TOPIC_EVENTS,
    SUB_EVENTS_ARCHIVE: TOPIC_EVENTS,
    SUB_FILE_DROPS_INGEST: TOPIC_FILE_DROPS,
    SUB_DEAD_LETTER_AUDIT: TOPIC_EVENTS_DEAD_LETTER,
    SUB_ALERTS_AUDIT: TOPIC_ALERTS,
    SUB_FILE_DROPS_DEAD_LETTER_AUDIT: TOPIC_FILE_DROPS_DEAD_LETTER,
}
TOPICS = (
    TOPIC_EVENTS,
    TOPIC_ALERTS,
    TOPIC_EVENTS_DEAD_LETTER,
    TOPIC_QUARANTINE,
    TOPIC_FILE_DROPS,
    TOPIC_FILE_DROPS_DEAD_LETTER,
)
#: Dead-letter topic -> (its audit subscription, the topic a replay republishes to).
DEAD_LETTERS: dict[str, tuple[str, str]] = {
    TOPIC_EVENTS_DEAD_LETTER: (SUB_DEAD_LETTER_AUDIT, TOPIC_EVENTS),
    TOPIC_FILE_DROPS_DEAD_LETTER: (SUB_FILE_DROPS_DEAD_LETTER_AUDIT, TOPIC_FILE_DROPS),
}

# BigQuery datasets
DATASET_MASTER = "master"  # master.events: deduplicated, rebuilt from the archive
DATASET_BATCH = "batch"  # batch views + the cutoff
DATASET_SPEED = "speed"  # speed.events, speed.stock_alerts, speed.dead_letters
DATASET_SERVING = "serving"  # analyst-facing views
DATASET_REFERENCE = "reference"  # products, stores
DATASET_OPS = "ops"  # ingest counters, rejects, batch runs
DATASETS = (
    DATASET_MASTER,
    DATASET_BATCH,
    DATASET_SPEED,
    DATASET_SERVING,
    DATASET_REFERENCE,
    DATASET_OPS,
)

# Archive layout: gs://<archive>/events/received_date=YYYY-MM-DD/<envelope_id>.json
ARCHIVE_PREFIX = "events"
QUARANTINE_PREFIX = "rejects"


@dataclass(frozen=True)
class BucketNames:
    """GCS bucket names for one project and environment."""

    landing: str
    archive: str
    quarantine: str
    artifacts: str
    all: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "all", (self.landing, self.archive, self.quarantine, self.artifacts)
        )


def bucket_names(project: str, env: str) -> BucketNames:
    """Globally unique bucket names, e.g. ``salesphere-dev-landing`` for project salesphere."""
    prefix = f"{project}-{env}"
    return BucketNames(
        landing=f"{prefix}-landing",
        archive=f"{prefix}-archive",
        quarantine=f"{prefix}-quarantine",
        artifacts=f"{prefix}-artifacts",
    )
