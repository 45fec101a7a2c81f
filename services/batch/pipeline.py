"""Batch pipeline entry point: ``python services/batch/pipeline.py [--full] [--from D --to D]``.

Our flags are parsed here; everything else goes to Beam unchanged, so the same command
runs on DirectRunner (default) or on Dataflow (``--runner DataflowRunner --project P
--region R --temp_location gs://...``). Settings come from ``SALESPHERE_*`` variables.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta

from salesphere.batch.runner import DEFAULT_ARCHIVE_LAG, run_batch
from salesphere.settings import Settings


def run(argv: list[str] | None = None) -> dict:
    """Parse flags, run one batch run, return (and print) its report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="rebuild every partition")
    parser.add_argument("--from", dest="date_from", type=date.fromisoformat)
    parser.add_argument("--to", dest="date_to", type=date.fromisoformat)
    parser.add_argument(
        "--archive-lag",
        type=float,
        default=DEFAULT_ARCHIVE_LAG.total_seconds(),
        help="seconds the archive may lag ingest (cutoff = start - lag)",
    )
    parser.add_argument(
        "--full-validation",
        action="store_true",
        help="re-validate every row with the shared model (slow)",
    )
    known, beam_args = parser.parse_known_args(argv)
    report = run_batch(
        Settings.from_env(),
        full=known.full,
        date_from=known.date_from,
        date_to=known.date_to,
        archive_lag=timedelta(seconds=known.archive_lag),
        full_validation=known.full_validation,
        beam_args=beam_args,
    )
    print(json.dumps(report.to_dict(), indent=2))
    return report.to_dict()


if __name__ == "__main__":
    run(sys.argv[1:])
