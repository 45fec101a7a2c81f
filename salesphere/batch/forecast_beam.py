"""The demand forecast as a Beam pipeline: the engine's chunks fitted on Beam workers.

For catalogues too large for the batch function's one vCPU. The work is the engine's own
(:func:`salesphere.forecast.engine.chunk_tasks` splits the series exactly as
``forecast_all`` does, :func:`~salesphere.forecast.engine.run_task` fits one chunk), so
the Beam path and the in-process path give the same rows; only where the chunks run
differs.

The series do not travel inside the job graph (a Dataflow job graph is limited to 10 MB,
and 10,000 series of two years are ~60 MB as float64): they are written as one JSON line
per chunk to ``<workdir>/input.jsonl``, the pipeline reads them, reshuffles (so Dataflow
spreads the chunks over its workers instead of fitting them where the file was read),
fits each chunk, and writes one JSON line per series to ``<workdir>/results-*``, which
the caller reads back in input order. JSON keeps the floats exact (Python writes the
shortest repr that reads back to the same double) and writes a censored day as ``NaN``.

``workdir`` is any path Beam's ``FileSystems`` knows: a ``gs://`` prefix under the run's
staging prefix on Dataflow, a local directory for DirectRunner. It is emptied before the
run (a retried run must not read an earlier attempt's shards) and after reading.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import date

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from salesphere.forecast.backtest import Score
from salesphere.forecast.engine import (
    ForecastConfig,
    SeriesForecast,
    Task,
    chunk_tasks,
    run_task,
)
from salesphere.forecast.series import Series

INPUT = "input.jsonl"
RESULTS = "results"


class ForecastJobIncomplete(RuntimeError):
    """The pipeline ran but did not return one forecast per series (or built only a graph)."""


# --- encoding: one chunk per input line, one series forecast per output line ---------------


def encode_task(index: int, task: Task) -> str:
    series, _config, chosen, run_backtest = task
    return json.dumps(
        {
            "task": index,
            "backtest": run_backtest,
            "series": [
                {
                    "store_id": s.store_id,
                    "sku": s.sku,
                    "start": s.start.isoformat(),
                    "y": s.y.tolist(),
                }
                for s in series
            ],
            "chosen": chosen,
        }
    )


def decode_task(line: str, config: ForecastConfig) -> tuple[int, Task]:
    data = json.loads(line)
    series = [
        Series(s["store_id"], s["sku"], date.fromisoformat(s["start"]), np.asarray(s["y"], float))
        for s in data["series"]
    ]
    return int(data["task"]), (series, config, list(data["chosen"]), bool(data["backtest"]))


def encode_result(task: int, position: int, r: SeriesForecast) -> str:
    return json.dumps(
        {
            "task": task,
            "position": position,
            "store_id": r.store_id,
            "sku": r.sku,
            "series_class": r.series_class,
            "model": r.model,
            "origin": r.origin.isoformat(),
            "mean": np.asarray(r.mean, float).tolist(),
            "lo": {str(k): np.asarray(v, float).tolist() for k, v in r.lo.items()},
            "hi": {str(k): np.asarray(v, float).tolist() for k, v in r.hi.items()},
            "scores": [asdict(s) for s in r.scores],
            "backtested": r.backtested,
        }
    )


def decode_result(line: str) -> tuple[tuple[int, int], SeriesForecast]:
    d = json.loads(line)
    forecast = SeriesForecast(
        d["store_id"],
        d["sku"],
        d["series_class"],
        d["model"],
        date.fromisoformat(d["origin"]),
        np.asarray(d["mean"], float),
        {int(k): np.asarray(v, float) for k, v in d["lo"].items()},
        {int(k): np.asarray(v, float) for k, v in d["hi"].items()},
        [Score(**s) for s in d["scores"]],
        bool(d["backtested"]),
    )
    return (int(d["task"]), int(d["position"])), forecast


# --- the pipeline -------------------------------------------------------------------------


def _fit(line: str, config: ForecastConfig) -> Iterable[str]:
    index, task = decode_task(line, config)
    for position, result in enumerate(run_task(task)):
        yield encode_result(index, position, result)


class FitChunks(beam.PTransform):
    """Encoded chunks (input lines) -> encoded forecasts, chunks spread over the workers."""

    def __init__(self, config: ForecastConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, lines):
        return (
            lines
            # Reading one file happens on few workers; without the reshuffle Dataflow would
            # fuse the fitting to the read and leave the other workers idle.
            | "Spread" >> beam.Reshuffle()
            | "Fit" >> beam.FlatMap(_fit, self.config)
        )


def build(pipeline: beam.Pipeline, config: ForecastConfig, workdir: str) -> None:
    _ = (
        pipeline
        | "ReadChunks" >> beam.io.ReadFromText(FileSystems.join(workdir, INPUT))
        | "FitChunks" >> FitChunks(config)
        | "WriteForecasts"
        >> beam.io.WriteToText(FileSystems.join(workdir, RESULTS), file_name_suffix=".jsonl")
    )


def _clear(workdir: str) -> None:
    pattern = FileSystems.join(workdir, "*")
    found = [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
    if found:
        FileSystems.delete(found)


def _write_input(workdir: str, tasks: Sequence[Task]) -> None:
    with FileSystems.create(FileSystems.join(workdir, INPUT)) as out:
        for index, task in enumerate(tasks):
            out.write(encode_task(index, task).encode() + b"\n")


def _read_results(workdir: str) -> list[tuple[tuple[int, int], SeriesForecast]]:
    pattern = FileSystems.join(workdir, f"{RESULTS}*")
    out = []
    for match in FileSystems.match([pattern]):
        for meta in match.metadata_list:
            with FileSystems.open(meta.path) as f:
                out.extend(decode_result(line) for line in f.read().decode().splitlines() if line)
    return out


def forecast_beam(
    series: Iterable[Series],
    config: ForecastConfig,
    *,
    mode: str,
    chosen: dict[tuple[str, str], str] | None,
    workdir: str,
    beam_args: Sequence[str] | None = None,
) -> list[SeriesForecast]:
    """What ``forecast_all(series, config, mode=mode, chosen=chosen)`` returns, fitted by Beam.

    ``beam_args`` pick the runner (DirectRunner by default; ``DataflowRunner`` with its
    options from :func:`salesphere.batch.dataflow.forecast_beam_args`). Waits for the job;
    raises :class:`ForecastJobIncomplete` unless every series came back exactly once.
    """
    tasks = chunk_tasks(series, config, mode=mode, chosen=chosen)
    # The tasks carry the run's store profiles (engine.prepare): the workers decode with it.
    config = tasks[0][1] if tasks else config
    expected = {(i, p) for i, task in enumerate(tasks) for p in range(len(task[0]))}
    if not tasks:
        return []
    _clear(workdir)
    try:
        _write_input(workdir, tasks)
        pipeline = beam.Pipeline(
            options=PipelineOptions(list(beam_args or []), save_main_session=False)
        )
        build(pipeline, config, workdir)
        result = pipeline.run()
        result.wait_until_finish()
        if getattr(result, "has_job", True) is False:
            raise ForecastJobIncomplete(
                "Beam built a job graph instead of running the forecast job, so there are no "
                "forecasts to write; run it with DirectRunner or DataflowRunner, not as a template"
            )
        rows = _read_results(workdir)
    finally:
        _clear(workdir)
    got = [key for key, _ in rows]
    if len(got) != len(expected) or set(got) != expected:
        raise ForecastJobIncomplete(
            f"the forecast job returned {len(got)} forecasts ({len(set(got))} distinct) for "
            f"{len(expected)} series; nothing is written"
        )
    return [forecast for _, forecast in sorted(rows, key=lambda row: row[0])]
