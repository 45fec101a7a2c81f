"""Batch layer entry point, and the batch flex template's program.

Two uses, one file:

* A whole run, in this process (lock, plan, Beam, load, commit)::

      python services/batch/pipeline.py [--full | --from D --to D] [--archive-lag S]

  on DirectRunner by default, or on Dataflow from a workstation
  (``--runner DataflowRunner --region R --temp_location gs://...``), where Beam waits for
  the job before the commit.
* The pipeline stage of a run the batch function planned (``--spec``)::

      python services/batch/pipeline.py --project P --env dev --spec gs://.../spec.json

  This is what the batch flex template runs: its launcher VM only builds the job graph,
  so the stage writes staged Parquet and nothing else; the batch function waits for the
  job and commits (``salesphere/batch/dataflow.py``).

Our flags are parsed here with ``allow_abbrev=False`` (so ``--archive`` can never become
``--archive-lag``); everything else goes to Beam unchanged. ``--project`` is ours (where
the datasets are) and Beam's (where the job runs), so it is read *and* passed on. The
template parameters in ``metadata.json`` are exactly the flags not in
``LOCAL_ONLY_FLAGS`` (``tests/services/test_pipelines.py``). Settings come from
``SALESPHERE_*`` variables, with ``--project``/``--env`` overriding them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, timedelta

from salesphere.batch.pipeline import read_spec, run_stage
from salesphere.batch.runner import run_batch
from salesphere.settings import Settings

#: Flags of a whole in-process run; the template runs stages only, so they are not
#: template parameters.
LOCAL_ONLY_FLAGS = frozenset({"full", "from", "to", "archive-lag", "full-validation", "run-id"})


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    p.add_argument("--project", help="project holding the datasets and buckets (also Beam's)")
    p.add_argument("--env", help="stack environment, e.g. dev; selects resource names")
    p.add_argument(
        "--spec",
        help="gs:// URI of a stage spec written by the batch function: run only that stage",
    )
    p.add_argument("--full", action="store_true", help="rebuild every partition")
    p.add_argument("--from", dest="date_from", type=date.fromisoformat)
    p.add_argument("--to", dest="date_to", type=date.fromisoformat)
    p.add_argument(
        "--archive-lag",
        type=float,
        default=Settings.batch_archive_lag_seconds,
        help="seconds the archive may lag ingest (cutoff = start - lag)",
    )
    p.add_argument(
        "--full-validation",
        action="store_true",
        help="re-validate every row with the shared model (slow)",
    )
    p.add_argument("--run-id", help="idempotency key: a run id that succeeded is not redone")
    return p


def parse(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """Split ``argv`` into our flags and Beam's; ``--project`` goes to both."""
    known, beam_args = parser().parse_known_args(argv)
    if known.project:
        beam_args = [*beam_args, f"--project={known.project}"]
    return known, beam_args


def settings_for(known: argparse.Namespace) -> Settings:
    overrides = {
        key: value
        for key, value in (("SALESPHERE_PROJECT", known.project), ("SALESPHERE_ENV", known.env))
        if value
    }
    return Settings.from_env({**os.environ, **overrides})


def run(argv: list[str] | None = None) -> dict:
    """Parse flags, run one batch run (or one stage), return (and print) its report."""
    known, beam_args = parse(argv)
    settings = settings_for(known)
    if known.spec:
        if not (known.project and known.env):
            raise SystemExit("--spec needs --project and --env (the stack the spec belongs to)")
        stats = run_stage(settings, read_spec(settings, known.spec), beam_args, allow_template=True)
        out = {"stage": known.spec, "job_graph_only": stats is None}
        if stats is not None:
            out |= {**stats.__dict__, "invalid": dict(stats.invalid)}
    else:
        report = run_batch(
            settings,
            full=known.full,
            date_from=known.date_from,
            date_to=known.date_to,
            archive_lag=timedelta(seconds=known.archive_lag),
            full_validation=known.full_validation,
            run_id=known.run_id,
            beam_args=beam_args,
        )
        out = report.to_dict()
    print(json.dumps(out, indent=2, default=str))
    return out


if __name__ == "__main__":
    run(sys.argv[1:])
