"""Speed layer, scale runtime: a Beam streaming pipeline (DirectRunner locally, Dataflow).

    python services/stream/pipeline.py --local-twin            # against the running twin
    python services/stream/pipeline.py --project P --env dev \\
        --subscription projects/P/subscriptions/events-speed --runner DataflowRunner ...

Reads envelopes from the ``events-speed`` subscription, and with the same library code
as the Cloud Function writes ``speed.events`` exactly once, raises stock alerts and
records poison in ``speed.dead_letters``. Flags this file does not know go to Beam;
``--project`` is both ours (where the datasets are) and Beam's (where the job runs), so
it is read here *and* passed on. ``metadata.json`` declares the same flags as flex
template parameters (``tests/services/test_pipelines.py`` compares the two).

The library comes from the installed ``salesphere`` package (the worker wheel in the
template image, the repository's editable install locally); nothing here edits
``sys.path``, so a missing package fails the same way on a laptop as on a worker.
"""

from __future__ import annotations

import argparse
import json
import logging

import apache_beam as beam
from apache_beam.options.pipeline_options import (
    DirectOptions,
    PipelineOptions,
    StandardOptions,
)

from salesphere import names
from salesphere.gcp import clients
from salesphere.gcp.beam import configure_beam_bigquery
from salesphere.settings import Settings
from salesphere.speed.beam_sink import RecordAlerts, WriteDeadLetters, WriteEventRows
from salesphere.speed.sink import SpeedWarehouse
from salesphere.speed.transforms import SpeedLogic, log_count

log = logging.getLogger("salesphere.speed")


class WarehouseReorderPoints:
    """Picklable loader of reorder points (runs on the workers, not the launcher)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, skus: list[str] | None) -> dict[str, int]:
        return SpeedWarehouse(self.settings).reorder_points(skus)


#: Flags that are not flex-template parameters (``metadata.json`` leaves them out).
LOCAL_ONLY_FLAGS = frozenset({"local-twin"})


def parser() -> argparse.ArgumentParser:
    """Our flags. ``allow_abbrev=False``: a prefix of ours must never swallow a Beam flag."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    p.add_argument(
        "--local-twin",
        action="store_true",
        help="read settings from the twin's environment and run on DirectRunner",
    )
    p.add_argument("--project", help="cloud project (flex template parameter; also Beam's)")
    p.add_argument("--env", help="stack environment, e.g. dev (flex template parameter)")
    p.add_argument("--subscription", help="full subscription path to read envelopes from")
    return p


def parse(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """Split ``argv`` into our flags and Beam's; ``--project`` goes to both."""
    args, beam_args = parser().parse_known_args(argv)
    if args.project:
        beam_args = [*beam_args, f"--project={args.project}"]
    return args, beam_args


def pipeline_options(args: argparse.Namespace, beam_args: list[str]) -> PipelineOptions:
    """Beam options: streaming always; on the twin DirectRunner, in memory unless told otherwise.

    ``multi_threading`` is refused: on DirectRunner it lost 2-6 % of keys with exit 0.
    """
    options = PipelineOptions(beam_args, save_main_session=False)
    options.view_as(StandardOptions).streaming = True
    if args.local_twin:
        options.view_as(StandardOptions).runner = "DirectRunner"
        direct = options.view_as(DirectOptions)
        if direct.direct_running_mode == "multi_threading":
            raise SystemExit(
                "--direct_running_mode=multi_threading loses data on DirectRunner; "
                "use in_memory (the default here) or multi_processing"
            )
        if not any(a.startswith("--direct_running_mode") for a in beam_args):
            direct.direct_num_workers = 1
            direct.direct_running_mode = "in_memory"
    return options


def settings_for(args: argparse.Namespace) -> Settings:
    """One settings object, from the twin's environment or from the template parameters."""
    if args.local_twin:
        return Settings.from_env()
    if not (args.project and args.env):
        raise SystemExit(
            "pass --local-twin, or --project and --env (and --subscription) for Dataflow"
        )
    return Settings.from_env({"SALESPHERE_PROJECT": args.project, "SALESPHERE_ENV": args.env})


def build(p: beam.Pipeline, settings: Settings, subscription: str) -> None:
    """Wire Pub/Sub → SpeedLogic → the sinks (thin on purpose: logic is in SpeedLogic)."""
    messages = p | "ReadEnvelopes" >> beam.io.ReadFromPubSub(
        subscription=subscription, with_attributes=True
    )
    out = messages | "Speed" >> SpeedLogic(WarehouseReorderPoints(settings))
    _ = out["rows"] | "WriteEvents" >> beam.ParDo(WriteEventRows(settings))
    _ = out["alerts"] | "RecordAlerts" >> beam.ParDo(RecordAlerts(settings))
    _ = out["dead_letters"] | "WriteDeadLetters" >> beam.ParDo(WriteDeadLetters(settings))
    _ = out["counts"] | "LogCounts" >> beam.Map(log_count)


def run(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("apache_beam", "google", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args, beam_args = parse(argv)
    settings = settings_for(args)
    subscription = args.subscription or clients.subscription_path(settings, names.SUB_EVENTS_SPEED)
    configure_beam_bigquery(settings)  # before anything could touch Beam's BigQuery IO
    options = pipeline_options(args, beam_args)
    log.info(json.dumps({"msg": "speed pipeline starting", "subscription": subscription}))
    with beam.Pipeline(options=options) as p:
        build(p, settings, subscription)


if __name__ == "__main__":
    run()
