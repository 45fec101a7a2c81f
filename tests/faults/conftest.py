"""Print the fault-injection scenarios and their outcome at the end of the run."""

from __future__ import annotations

import pytest

_OUTCOMES: dict[str, str] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    report = outcome.get_result()
    if "tests/faults/" in item.nodeid and report.when == "call":
        doc = (item.obj.__doc__ or item.name).strip().splitlines()[0]
        _OUTCOMES[f"{item.name}: {doc}"] = report.outcome
    return outcome


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _OUTCOMES:
        return
    terminalreporter.section("fault-injection scenarios")
    for name, outcome in _OUTCOMES.items():
        terminalreporter.write_line(f"{outcome.upper():7} {name}")
