"""`salesphere reconcile`: prove nothing was lost or doubled; non-zero exit when it does not add up."""

from __future__ import annotations

import json

import typer


def reconcile(
    as_json: bool = typer.Option(False, "--json", help="Print facts and findings as JSON."),
    archive: bool = typer.Option(
        True,
        "--archive/--no-archive",
        help="Also recompute local-day sales from the raw archive files (reads the bucket).",
    ),
) -> None:
    """Check received = accepted + rejected, layers = distinct events, serving = recomputed
    (in SQL from the events, and in Python per local day from the raw archive files)."""
    from salesphere.settings import Settings
    from salesphere_tools.reconcile import reconcile as run

    result = run(Settings.from_env(), archive=archive)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        layers = result.facts["layers"][0]
        typer.echo(
            f"distinct accepted events: {layers['distinct_accepted']}, "
            f"served: {layers['served_events']}"
        )
        quarantined = sum(row["files"] for row in result.facts["files"])
        if quarantined:
            rules = ", ".join(
                f"{r['source']}/{r['rule']}: {r['files']}" for r in result.facts["files"]
            )
            typer.echo(f"files quarantined whole: {quarantined} ({rules})")
        days = result.facts.get("archive_days")
        if days:
            typer.echo(
                f"local days from the archive files: {days['store_days']} store-days, "
                f"{days['differ']} differ"
                + ("" if days["complete"] else " (archive behind serving: run again later)")
            )
        for finding in result.findings:
            typer.echo(
                f"MISMATCH {finding.check}: expected {finding.expected}, "
                f"got {finding.actual} ({finding.detail})"
            )
        typer.echo("reconcile: OK" if result.ok else "reconcile: FAILED")
    if not result.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.command("reconcile")(reconcile)
