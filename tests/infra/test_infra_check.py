"""`salesphere infra check`: a table of what holds, and a failing exit when something does not."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from typer.testing import CliRunner

from salesphere import limits, names
from salesphere_tools.cli.infra_check import check_limits, check_stacks, run_checks
from salesphere_tools.cli.main import app
from sql import view_files


def test_stacks_and_limits_pass_for_every_stack_kind() -> None:
    rows = run_checks(["stacks", "limits"], ["dev", "staging", "prod", "pr-3"])
    assert [r.subject for r in rows if r.area == "stacks"] == ["dev", "staging", "prod", "pr-3"]
    assert all(r.ok for r in rows), [r for r in rows if not r.ok]


def test_a_broken_limit_fails_with_its_fix(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    short = replace(limits.SUBSCRIPTIONS[names.SUB_FILE_DROPS_INGEST], ack_deadline_s=10)
    monkeypatch.setitem(limits.SUBSCRIPTIONS, names.SUB_FILE_DROPS_INGEST, short)
    (row,) = check_limits([])
    assert not row.ok
    assert "shorter than ingest-files's timeout" in row.fix


def test_an_unknown_stack_is_a_failed_row_not_a_crash() -> None:
    (row,) = check_stacks(["qa"])
    assert not row.ok and "unknown stack" in row.detail


def test_the_command_exits_1_when_a_check_fails(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(limits, "FILE_MAX_ATTEMPTS", 99)
    result = CliRunner().invoke(app, ["infra", "check", "--only", "limits"])
    assert result.exit_code == 1
    assert "FAIL" in result.output


def test_the_command_exits_0_when_all_pass() -> None:
    result = CliRunner().invoke(app, ["infra", "check", "--only", "limits", "--stack", "dev"])
    assert result.exit_code == 0, result.output
    assert "pass" in result.output


def test_a_bundle_that_does_not_start_fails_its_row_with_the_fix(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from salesphere_tools.cli.infra_check import check_bundles
    from salesphere_tools.local import bundles

    def broken(source, **_kwargs):  # type: ignore[no-untyped-def]
        if source.service == "stream":
            raise bundles.BundleError(
                "add google-cloud-bigquery to services/stream/requirements.txt"
            )
        return SimpleNamespace(facts=lambda: {"python": "3.12.0"})

    monkeypatch.setattr(bundles, "prepare", broken)
    monkeypatch.setattr(bundles, "smoke_start", lambda *_a, **_k: 1.0)
    rows = {r.subject: r for r in check_bundles([])}
    assert rows["ingest-http"].ok and "Python 3.12.0" in rows["ingest-http"].detail
    assert not rows["speed"].ok
    assert "services/stream/requirements.txt" in rows["speed"].fix


def test_the_graph_checks_pass_for_every_stack_kind() -> None:
    rows = run_checks(
        ["apis", "agents", "audiences", "analysts"], ["dev", "staging", "prod", "pr-1"]
    )
    assert [(r.area, r.subject) for r in rows] == [
        (area, stack)
        for area in ("apis", "agents", "audiences", "analysts")
        for stack in ("dev", "staging", "prod", "pr-1")
    ]
    assert all(r.ok for r in rows), [r for r in rows if not r.ok]
    assert f"reads {len(view_files())} views, none of" in rows[-1].detail


def test_a_graph_problem_fails_its_row_with_the_problem_as_fix(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from salesphere_tools import infra_graph

    monkeypatch.setattr(
        infra_graph, "endpoint_problems", lambda run: ["sub-x pushes to the wrong URL"]
    )
    (row,) = run_checks(["audiences"], ["pr-1"])
    assert not row.ok and row.fix == "sub-x pushes to the wrong URL"
