"""Every ``make bench`` case runs, tiny, on every change, so none can silently break.

Not a speed test: each case must complete and give its rows (numbers, named, with their
targets) at a scale that takes seconds. The cases that need a warehouse or the ingest
function share one twin started for this module; it is not the session's twin because
the batch cases replace whole archives and warehouses, which would pull the rug from under
the other tests. The speed cases start their own twin (the runtime is what they measure).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from salesphere.settings import Settings
from salesphere_tools.bench.figures import BenchRun, Figure
from salesphere_tools.bench.suite import suite
from salesphere_tools.cli.bench import print_table
from salesphere_tools.local.twin import Twin
from tests.conftest import make_settings

pytestmark = [pytest.mark.twin, pytest.mark.slow]

SCALE = 0.001
#: Services the shared twin runs: the union of what the cases ask for.
SERVICES = {"ingest-http"}


@pytest.fixture(scope="module")
def bench_twin(tmp_path_factory: pytest.TempPathFactory, function_bundles: None) -> Iterator[Twin]:
    twin = Twin(make_settings(tmp_path_factory.mktemp("bench-twin")))
    try:
        twin.up(only=SERVICES)
        yield twin
    finally:
        twin.down()


@pytest.fixture(scope="module")
def cases(bench_twin: Twin):
    @contextmanager
    def shared(services: set[str]) -> Iterator[Settings]:
        assert services <= SERVICES, f"the smoke twin does not run {services - SERVICES}"
        yield bench_twin.settings

    return suite(SCALE, twins=shared)


@pytest.mark.parametrize("name", list(suite(SCALE)))
def test_benchmark_case_runs_and_gives_its_rows(name: str, cases, capsys) -> None:
    figures = cases[name]()
    assert figures, f"{name} gave no figures"
    for figure in figures:
        assert isinstance(figure, Figure)
        assert figure.area and figure.name and figure.unit
        assert isinstance(figure.value, int | float) and not math.isnan(figure.value)
    print_table(BenchRun(figures=figures))
    printed = capsys.readouterr().out
    assert figures[0].area in printed
