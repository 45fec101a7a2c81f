"""`salesphere infra check`: everything that must hold before `pulumi up`, checked offline.

A data engineer runs it before deploying and CI runs it on every change. Each check is a
function returning :class:`Check` rows, so the table says what passed and, for what did
not, the first thing to fix. Checks run in order of cost; ``--only`` picks some.

* ``stacks``: the real Pulumi program under mocks for every stack, with its guardrails;
* ``limits``: timeouts, sizes, ack deadlines and the schedule keep their rules;
* ``bundles``: each function's bundle installs from its own requirements on the
  deployed Python and its entry point starts;
* ``sql``: Google's own analyzer (ZetaSQL) accepts every statement sent to BigQuery;
* ``iam``: every permission a service was seen to use is granted to it, nothing more;
* ``apis``: every resource waits for the Google APIs its type needs, accounts for IAM;
* ``agents``: grants to Pub/Sub's service agent wait for the agent to be created;
* ``audiences``: pushes, the schedule and ingest-http's accepted token audiences come
  from one definition of each function's URLs;
* ``analysts``: the analyst group reads every serving view and no table beneath it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from infra.mocking import ProgramRun

DEFAULT_STACKS = ("dev", "staging", "prod", "pr-1")


@dataclass(frozen=True)
class Check:
    """One row of the table: what was checked, whether it held, and what to do if not."""

    area: str
    subject: str
    ok: bool
    detail: str = ""
    fix: str = ""


CheckFn = Callable[[Sequence[str]], list[Check]]


def run_preview(stack: str, overrides: dict[str, str]) -> tuple[ProgramRun, list[Any]]:
    """Run the program and the guardrails; shared by ``preview``, ``targets`` and the checks."""
    from infra.guardrails import Resource, evaluate
    from infra.mocking import run_program
    from infra.settings import SettingsError

    try:
        run = run_program(stack, overrides)
    except SettingsError as exc:
        raise typer.BadParameter(str(exc), param_hint="--stack/--set") from exc
    violations = evaluate([Resource(r.urn, r.type, r.name, r.inputs) for r in run.resources])
    return run, violations


def check_stacks(stacks: Sequence[str]) -> list[Check]:
    """Run the program for each stack; mandatory guardrail violations fail it."""
    out = []
    for stack in stacks:
        try:
            run, violations = run_preview(stack, {})
        except Exception as exc:  # a program that cannot run is the finding itself
            out.append(
                Check("stacks", stack, False, f"{type(exc).__name__}: {exc}", "fix the program")
            )
            continue
        mandatory = [v for v in violations if v.enforcement == "mandatory"]
        out.append(
            Check(
                "stacks",
                stack,
                not mandatory,
                f"{len(run.resources)} resources, {len(violations)} guardrail findings",
                mandatory[0].message if mandatory else "",
            )
        )
    return out


def check_limits(_stacks: Sequence[str]) -> list[Check]:
    from salesphere import limits

    found = limits.violations()
    return [
        Check(
            "limits",
            "timeouts, sizes, deliveries",
            not found,
            f"{len(limits.FUNCTIONS)} functions, {len(limits.SUBSCRIPTIONS)} subscriptions",
            found[0] if found else "",
        )
    ]


def check_bundles(_stacks: Sequence[str]) -> list[Check]:
    """Each function as it deploys: its zip (the Pulumi program's own builder) unpacked,
    its requirements installed on the deployed Python, its entry point started and asked
    ``/healthz``. Environments are cached by the zip's and requirements' hashes, so only
    a changed bundle reinstalls (1-2 minutes each the first time)."""
    from infra.sources import bundle
    from salesphere_tools.local import bundles
    from salesphere_tools.local.components import FUNCTIONS
    from salesphere_tools.local.prereqs import REPO_ROOT

    rows = []
    with bundles.rich_progress("installing function bundles") as say:
        for target in FUNCTIONS:
            try:
                env = bundles.prepare(bundle(target.service, REPO_ROOT), progress=say)
                seconds = bundles.smoke_start(env, target.entry_point, target.signature)
            except bundles.BundleError as exc:
                first = str(exc).splitlines()[0]
                rows.append(Check("bundles", target.name, False, first, first))
                continue
            python = env.facts().get("python", "?")
            rows.append(
                Check(
                    "bundles",
                    target.name,
                    True,
                    f"{target.service} bundle on Python {python}, "
                    f"{target.entry_point} ready in {seconds:.1f} s",
                )
            )
    return rows


def check_sql(_stacks: Sequence[str]) -> list[Check]:
    """Google's analyzer over every statement; one row per origin, failures named."""
    from salesphere_tools.sqlcheck.check import run

    summary = run()
    by_origin: dict[str, list] = {}
    for result in summary.results:
        by_origin.setdefault(result.origin.split(":", 1)[0], []).append(result)
    rows = []
    for origin, results in sorted(by_origin.items()):
        bad = [r for r in results if not r.ok]
        rows.append(
            Check(
                "sql",
                origin,
                not bad,
                f"{len(results)} texts, {sum(r.statements for r in results)} statements"
                + (f"; rejected: {', '.join(r.name for r in bad[:3])}" if bad else ""),
                bad[0].error.splitlines()[0] if bad else "",
            )
        )
    return rows


def check_iam(stacks: Sequence[str]) -> list[Check]:
    """Each stack grants every recorded permission to its service's account, and no more."""
    from infra.mocking import run_program
    from salesphere_tools.iam_check import missing_grants, unused_grants

    out = []
    for stack in stacks:
        run = run_program(stack)
        missing, unused = missing_grants(run), unused_grants(run)
        out.append(
            Check(
                "iam",
                stack,
                not missing and not unused,
                f"{len(missing)} missing, {len(unused)} unused or oversized grants",
                (missing or unused or [""])[0],
            )
        )
    return out


def _graph_rows(area: str, stacks: Sequence[str], find: Callable[[Any], list[str]], what: str):  # type: ignore[no-untyped-def]
    from infra.mocking import run_program

    rows = []
    for stack in stacks:
        run = run_program(stack)
        problems = find(run)
        rows.append(
            Check(
                area,
                stack,
                not problems,
                what if not problems else f"{len(problems)} problem(s)",
                problems[0] if problems else "",
            )
        )
    return rows


def check_apis(stacks: Sequence[str]) -> list[Check]:
    """Each resource waits for its APIs (infra/apis.py), each account for IAM."""
    from salesphere_tools.infra_graph import account_problems, api_problems

    return _graph_rows(
        "apis",
        stacks,
        lambda run: api_problems(run) + account_problems(run),
        "every resource waits for its APIs",
    )


def check_agents(stacks: Sequence[str]) -> list[Check]:
    """Service agents are created (ServiceIdentity) before anything is granted to them."""
    from salesphere_tools.infra_graph import agent_problems

    return _graph_rows("agents", stacks, agent_problems, "Pub/Sub agent created before its grants")


def check_audiences(stacks: Sequence[str]) -> list[Check]:
    """Push endpoints, audiences, the scheduler target and ingest-http's accepted list."""
    from salesphere_tools.infra_graph import endpoint_problems

    return _graph_rows(
        "audiences", stacks, endpoint_problems, "one definition of each function's URLs"
    )


#: Group the analyst check runs as when a stack sets none (the grants are per stack).
PROBE_ANALYSTS = "group:analyst-probe@example.com"


def check_analysts(stacks: Sequence[str]) -> list[Check]:
    """The stack's analyst group (or a probe one) reads every view and no table under it."""
    from infra.mocking import run_program
    from infra.settings import settings_for_stack
    from salesphere_tools.infra_graph import analyst_problems

    rows = []
    for stack in stacks:
        group = settings_for_stack(stack).analyst_group
        run = run_program(stack, {} if group else {"salesphere:analyst_group": PROBE_ANALYSTS})
        member = group or PROBE_ANALYSTS
        problems, views, tables = analyst_problems(run, member)
        who = member if group else f"{member} (no salesphere:analyst_group set)"
        rows.append(
            Check(
                "analysts",
                stack,
                not problems,
                f"{who}: reads {views} views, none of {tables} tables"
                if not problems
                else f"{len(problems)} problem(s)",
                problems[0] if problems else "",
            )
        )
    return rows


CHECKS: dict[str, CheckFn] = {
    "stacks": check_stacks,
    "limits": check_limits,
    "bundles": check_bundles,
    "sql": check_sql,
    "iam": check_iam,
    "apis": check_apis,
    "agents": check_agents,
    "audiences": check_audiences,
    "analysts": check_analysts,
}


def run_checks(names: Sequence[str], stacks: Sequence[str]) -> list[Check]:
    """Every named check over ``stacks``; a check that crashes is reported, not raised."""
    out: list[Check] = []
    for name in names:
        try:
            out.extend(CHECKS[name](stacks))
        except Exception as exc:
            out.append(Check(name, "(check)", False, f"{type(exc).__name__}: {exc}", "see above"))
    return out


def render(rows: Sequence[Check]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="salesphere infra check", show_lines=False)
    for column in ("area", "subject", "result", "detail", "first fix"):
        table.add_column(column, overflow="fold")
    for row in rows:
        result = "[green]pass[/]" if row.ok else "[red]FAIL[/]"
        table.add_row(row.area, row.subject, result, row.detail, row.fix)
    console = Console()
    if not console.is_terminal:  # CI logs: wide enough that rows stay on one line
        console = Console(width=160)
    console.print(table)
