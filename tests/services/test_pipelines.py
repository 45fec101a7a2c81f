"""The pipelines' command lines: flex-template metadata, Beam pass-through, no abbreviations.

Dataflow passes every template parameter as ``--name=value`` to the pipeline program, so
a parameter the parser does not know goes to Beam (and is lost), and a flag the metadata
does not declare cannot be set at launch. The parsers are loaded from the files the
template images copy (``services/*/pipeline.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from types import ModuleType

import pytest
from apache_beam.options.pipeline_options import DirectOptions, GoogleCloudOptions

from tests import REPO_ROOT

ROOT = REPO_ROOT


def _load(service: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"{service}_pipeline", ROOT / "services" / service / "pipeline.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STREAM, BATCH = _load("stream"), _load("batch")


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    """Each option's long name without dashes (``--archive-lag`` -> ``archive-lag``)."""
    out = set()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        longs = [s for s in action.option_strings if s.startswith("--")]
        assert len(longs) == 1, f"one long name per flag, got {action.option_strings}"
        out.add(longs[0][2:])
    return out


@pytest.mark.parametrize("service", ["stream", "batch"])
def test_template_metadata_declares_exactly_the_pipeline_flags(service: str) -> None:
    module = STREAM if service == "stream" else BATCH
    metadata = json.loads((ROOT / "services" / service / "metadata.json").read_text())
    declared = [p["name"] for p in metadata["parameters"]]
    assert len(declared) == len(set(declared)), "a parameter is declared twice"
    flags = _flags(module.parser())
    assert flags >= module.LOCAL_ONLY_FLAGS, "a local-only flag the parser does not have"
    assert set(declared) == flags - module.LOCAL_ONLY_FLAGS
    assert metadata["streaming"] is (service == "stream")
    for parameter in metadata["parameters"]:
        assert parameter["label"] and parameter["helpText"], parameter["name"]


@pytest.mark.parametrize("module", [STREAM, BATCH], ids=["stream", "batch"])
def test_project_reaches_both_our_settings_and_beam(module: ModuleType) -> None:
    args, beam_args = module.parse(["--project", "acme-prod", "--env", "prod", "--region=x"])
    assert args.project == "acme-prod"
    from apache_beam.options.pipeline_options import PipelineOptions

    options = PipelineOptions(beam_args)
    assert options.view_as(GoogleCloudOptions).project == "acme-prod"
    assert options.view_as(GoogleCloudOptions).region == "x"


def test_batch_flags_are_not_abbreviated_into_each_other() -> None:
    # `--archive gs://...` used to be expanded by argparse to `--archive-lag` and fail as
    # "invalid float value"; now an unknown flag is left for Beam, never guessed.
    known, beam_args = BATCH.parse(["--archive", "gs://b", "--full"])
    assert known.archive_lag == BATCH.Settings.batch_archive_lag_seconds
    assert beam_args == ["--archive", "gs://b"]
    known, beam_args = BATCH.parse(
        ["--archive-lag", "0", "--spec=gs://a/batch/staging/r/spec.json"]
    )
    assert known.archive_lag == 0 and known.spec.endswith("spec.json") and beam_args == []


def test_stream_flags_are_not_abbreviated() -> None:
    args, beam_args = STREAM.parse(["--sub", "projects/p/subscriptions/s", "--local-twin"])
    assert args.subscription is None and beam_args == ["--sub", "projects/p/subscriptions/s"]


def test_stream_twin_runs_keep_the_direct_options_they_are_given() -> None:
    args, beam_args = STREAM.parse(
        ["--local-twin", "--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    )
    direct = STREAM.pipeline_options(args, beam_args).view_as(DirectOptions)
    assert (direct.direct_running_mode, direct.direct_num_workers) == ("multi_processing", 2)
    args, beam_args = STREAM.parse(["--local-twin"])
    direct = STREAM.pipeline_options(args, beam_args).view_as(DirectOptions)
    assert (direct.direct_running_mode, direct.direct_num_workers) == ("in_memory", 1)
    args, beam_args = STREAM.parse(["--local-twin", "--direct_running_mode=multi_threading"])
    with pytest.raises(SystemExit, match="loses data"):
        STREAM.pipeline_options(args, beam_args)


def test_the_pipelines_do_not_put_the_repository_on_sys_path() -> None:
    # Run from a template image or a clean venv, the library must come from the installed
    # worker wheel; a sys.path edit would hide a wheel that lacks something.
    for service in ("stream", "batch"):
        text = (ROOT / "services" / service / "pipeline.py").read_text()
        assert "sys.path" not in text.replace("``sys.path``", ""), service
