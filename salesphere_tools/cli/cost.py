"""`salesphere cost`: how much of each free-tier quota a stack uses at a given volume.

The model is :mod:`salesphere_tools.costs` (pure, tested); this module only reads the stack's
settings (``Pulumi.<stack>.yaml`` or the pr-<n> defaults) and the definitions the bill
depends on (function sizes from :mod:`salesphere.limits`, the batch cadence from the stack's
schedule, the lock lease, the functions the program deploys), and prints the table,
naming the first quota to run out and the order volume at which each one does. A dagger
marks a price or allowance that could not be checked on Google's own page.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # the model loads lazily, so `salesphere --help` stays quick
    from salesphere_tools.costs import Estimate, EventSizes, StackProfile

#: Quota key -> orders a day at which it runs out (None: never).
RunsOut = dict[str, float | None]


def _profile(stack: str) -> StackProfile:
    from infra.settings import SettingsError, settings_for_stack
    from salesphere import limits
    from salesphere.settings import Settings
    from salesphere_tools.costs import StackProfile, runs_per_day

    try:
        s = settings_for_stack(stack)
    except SettingsError as exc:
        raise typer.BadParameter(str(exc), param_hint="--stack") from exc
    from infra.functions import ALL_FUNCTIONS

    return StackProfile(
        stack=stack,
        envelope_max_events=Settings().envelope_max_events,
        scheduler_jobs=1 if s.scheduler_enabled else 0,
        batch_runs_per_day=runs_per_day(s.batch_schedule) if s.scheduler_enabled else 0,
        speed_runtime=s.speed_runtime,
        batch_runtime=s.batch_runtime,
        speed_retention_days=s.speed_retention_days,
        landing_retention_days=s.landing_retention_days,
        archive_nearline_after_days=s.archive_nearline_after_days,
        function_sizes={
            name: (size.cpu, size.memory_mib / 1024) for name, size in limits.FUNCTIONS.items()
        },
        functions=len(ALL_FUNCTIONS),
        batch_lock_lease_seconds=Settings().batch_lock_lease_seconds,
    )


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.3f}".rstrip("0").rstrip(".") if value else "0"


def _as_json(
    stack: str,
    orders_per_day: float,
    design: str,
    result: Estimate,
    sizes: EventSizes,
    limits: RunsOut,
) -> str:
    """The estimate as JSON (``--json``): every quota, where it runs out, the bill."""
    return json.dumps(
        {
            "stack": stack,
            "design": design,
            "orders_per_day": orders_per_day,
            "events_per_day": round(result.events_per_day),
            "measured": sizes.__dict__,
            "quotas": [
                {
                    "key": u.quota.key,
                    "verified": u.quota.verified,
                    "used": u.used,
                    "free": u.quota.free,
                    "unit": u.quota.unit,
                    "share": u.share if u.quota.free else None,
                    "runs_out_at_orders_per_day": limits[u.quota.key],
                    "overage_usd": u.overage_usd,
                }
                for u in result.uses
            ],
            "query_tib": result.query_tib,
            "first_to_run_out": result.first_to_run_out.quota.key,
            "overage_usd": result.overage_usd,
            "billed_without_free_tier": [u.quota.key for u in result.billed_without_free_tier],
            "notes": list(result.notes),
        },
        indent=2,
    )


def _print_table(
    stack: str, orders_per_day: float, result: Estimate, sizes: EventSizes, limits: RunsOut
) -> None:
    """The estimate as a table, the quota that runs out first and the bill."""
    from rich.console import Console
    from rich.table import Table

    from salesphere_tools.costs import DAYS_PER_MONTH

    console = Console()
    console.print(
        f"stack [bold]{stack}[/]: {orders_per_day:,.0f} orders/day = "
        f"{result.events_per_day:,.0f} events/day; measured {sizes.event_bytes:.0f} B/event "
        f"on the wire (+{sizes.envelope_overhead_bytes:.0f} B/envelope), "
        f"{sizes.row_logical_bytes:.0f} B/row in BigQuery"
    )
    table = Table(
        "quota", "used / month", "free", "used %", "runs out at orders/day", "over free (USD)"
    )
    for u in result.uses:
        limit = limits[u.quota.key]
        if not u.quota.free:
            share = "[red]billed[/]" if u.used else "-"
            free = "none"
        else:
            style = "red" if u.share > 1 else ("yellow" if u.share > 0.5 else "")
            share = f"[{style}]{u.share * 100:.1f}%[/]" if style else f"{u.share * 100:.1f}%"
            free = _fmt(u.quota.free)
        table.add_row(
            u.quota.label + ("" if u.quota.verified else " †"),
            f"{_fmt(u.used)} {u.quota.unit}",
            free,
            share,
            "never" if limit is None else ("already" if limit < 1 else f"{limit:,.0f}"),
            f"{u.overage_usd:.4f}",
        )
    console.print(table)
    first = result.first_to_run_out
    if first.share > 1:
        verdict = f"runs out first: used up on day {DAYS_PER_MONTH / first.share:.0f} of each month"
    else:
        verdict = "would run out first as volume grows"
    console.print(
        f"[bold]{first.quota.label}[/] {verdict} ({first.share * 100:.0f}% of the free "
        f"allowance); estimated bill ≈ ${result.overage_usd:.2f}/month"
    )
    for u in result.billed_without_free_tier:
        console.print(
            f"billed from the first unit (no free tier): {u.quota.label} "
            f"≈ ${u.overage_usd:.4f}/month"
        )
    total = sum(result.query_tib.values())
    if total:
        shares = ", ".join(
            f"{what} {tib / total * 100:.0f}%"
            for what, tib in sorted(result.query_tib.items(), key=lambda kv: -kv[1])
        )
        console.print(f"BigQuery query bytes come from: {shares}")
    for note in result.notes:
        console.print(f"[dim]note: {note}[/]")


def cost(
    orders_per_day: Annotated[float, typer.Option(help="Orders per day across all stores.")],
    stack: Annotated[str, typer.Option(help="dev, staging, prod or pr-<n>")] = "prod",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    design: Annotated[
        str,
        typer.Option(
            help="now (this tree) or before (the archive written by a Cloud Storage "
            "subscription, serving views that read all of speed.events and master.events)"
        ),
    ] = "now",
) -> None:
    """Estimated monthly use of each free-tier quota, and the first one to run out."""
    from salesphere_tools.costs import QUOTAS, designs, estimate, exhaustion_point, measure_sizes

    known = designs()
    if design not in known:
        raise typer.BadParameter(f"--design must be one of {', '.join(known)}")
    chosen = known[design]
    if orders_per_day < 0:
        raise typer.BadParameter("--orders-per-day must be >= 0")
    profile = _profile(stack)
    sizes = measure_sizes()
    result = estimate(orders_per_day, profile, sizes=sizes, design=chosen)
    limits = {q.key: exhaustion_point(q.key, profile, sizes=sizes, design=chosen) for q in QUOTAS}
    if as_json:
        typer.echo(_as_json(stack, orders_per_day, chosen.name, result, sizes, limits))
    else:
        _print_table(stack, orders_per_day, result, sizes, limits)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.command("cost")(cost)
