"""`salesphere infra`: see what a stack provisions, offline, and list a layer's URNs.

``preview`` runs the real Pulumi program (``infra/``) in-process under Pulumi's mocks, so
a reviewer sees every resource a change would declare, and whether it passes the
free-tier guardrails, without cloud credentials or the Pulumi CLI. ``targets`` prints the
``--target`` arguments the deploy workflow passes to ``pulumi up`` for one layer.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from infra.mocking import ProgramRun, Recorded

LAYERS = ("foundation", "ingest", "speed", "batch", "serving")


def parse_sets(values: list[str]) -> dict[str, str]:
    """``key=value`` pairs (``salesphere:scheduler_enabled=false``) as config overrides."""
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or ":" not in key:
            raise typer.BadParameter(f"--set {item!r}: use namespace:key=value")
        out[key] = value
    return out


def _get(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)  # type: ignore[assignment]
    return data


def _short(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


#: What a reviewer wants to see per resource type (camelCase input paths).
KEY_INPUTS: dict[str, tuple[str, ...]] = {
    "gcp:projects/service:Service": ("service",),
    "gcp:pubsub/topic:Topic": ("name",),
    "gcp:pubsub/subscription:Subscription": (
        "name",
        "topic",
        "messageRetentionDuration",
        "pushConfig.pushEndpoint",
        "cloudStorageConfig.bucket",
        "cloudStorageConfig.filenamePrefix",
        "deadLetterPolicy.deadLetterTopic",
    ),
    "gcp:storage/bucket:Bucket": (
        "name",
        "location",
        "storageClass",
        "publicAccessPrevention",
        "forceDestroy",
    ),
    "gcp:storage/bucketObject:BucketObject": ("bucket", "name"),
    "gcp:storage/notification:Notification": ("bucket", "topic", "eventTypes"),
    "gcp:bigquery/dataset:Dataset": ("datasetId", "location", "defaultTableExpirationMs"),
    "gcp:bigquery/table:Table": (
        "datasetId",
        "tableId",
        "timePartitioning.field",
        "clusterings",
        "deletionProtection",
    ),
    "gcp:cloudfunctionsv2/function:Function": (
        "name",
        "buildConfig.entryPoint",
        "buildConfig.source.storageSource.object",
        "serviceConfig.ingressSettings",
        "serviceConfig.serviceAccountEmail",
    ),
    "gcp:cloudscheduler/job:Job": ("name", "schedule", "httpTarget.uri"),
    "gcp:serviceaccount/account:Account": ("accountId",),
    "gcp:secretmanager/secret:Secret": ("secretId",),
    "gcp:dataflow/flexTemplateJob:FlexTemplateJob": ("name", "containerSpecGcsPath"),
}
IAM_KEYS = (
    "role",
    "member",
    "topic",
    "subscription",
    "bucket",
    "datasetId",
    "secretId",
    "name",
    "serviceAccountId",
    "project",
)


def key_inputs(resource: Recorded) -> dict[str, str]:
    """The handful of inputs that say what a resource is."""
    inputs = resource.inputs
    if resource.type.endswith(("IAMMember", "IamMember")):
        paths: tuple[str, ...] = IAM_KEYS
    else:
        paths = KEY_INPUTS.get(resource.type, ())
    out = {}
    for path in paths:
        value = _get(inputs, path)
        if value not in (None, "", []):
            out[path] = _short(value)
    if resource.type == "gcp:bigquery/table:Table" and _get(inputs, "view.query"):
        out["view"] = "yes"
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    assets = getattr(value, "assets", None)
    if isinstance(assets, dict):
        return f"<archive of {len(assets)} files>"
    return f"<{type(value).__name__}>"


def _print_tree(run: ProgramRun, violations: list[Any]) -> None:
    from collections import Counter

    from rich.console import Console
    from rich.tree import Tree

    console = Console()
    tree = Tree(f"[bold]stack {run.stack}[/] ({len(run.resources)} resources)")
    for layer in LAYERS:
        members = [r for r in run.resources if r.layer == layer and r.type.startswith("gcp:")]
        branch = tree.add(f"[bold cyan]{layer}[/] ({len(members)})")
        for r in sorted(members, key=lambda r: (r.type, r.name)):
            detail = "  ".join(f"{k}={v}" for k, v in key_inputs(r).items())
            flag = " [red]protect[/]" if r.protect else ""
            branch.add(f"[green]{r.type.split(':')[-1]}[/] {r.name}{flag}  [dim]{detail}[/]")
    console.print(tree)
    counts = Counter(r.type.split(":")[-1] for r in run.resources if r.type.startswith("gcp:"))
    console.print("by type: " + ", ".join(f"{t} {n}" for t, n in sorted(counts.items())))
    for warning in run.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    if not violations:
        console.print("[green]guardrails: all policies pass[/]")
    for v in violations:
        colour = "red" if v.enforcement == "mandatory" else "yellow"
        console.print(f"[{colour}]{v.enforcement} {v.policy}[/]: {v.message}  [dim]{v.urn}[/]")


infra_app = typer.Typer(
    help="Pulumi infrastructure: offline preview under mocks, deploy targets.",
    no_args_is_help=True,
)


@infra_app.command("preview")
def preview(
    stack: Annotated[str, typer.Option(help="dev, staging, prod or pr-<n>")] = "dev",
    format: Annotated[str, typer.Option("--format", help="tree or json")] = "tree",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="config override, e.g. salesphere:speed_runtime=dataflow"),
    ] = None,
) -> None:
    """List every resource the stack declares, with key inputs and guardrail results.

    Exits 1 when a mandatory guardrail fails, so CI can gate on it.
    """
    if format not in ("tree", "json"):
        raise typer.BadParameter("use --format tree or --format json")
    from salesphere_tools.cli.infra_check import run_preview

    run, violations = run_preview(stack, parse_sets(set_ or []))
    if format == "json":
        body = {
            "stack": run.stack,
            "resource_count": len(run.resources),
            "resources": [
                {
                    "urn": r.urn,
                    "type": r.type,
                    "name": r.name,
                    "layer": r.layer,
                    "protect": r.protect,
                    "key_inputs": key_inputs(r),
                    "inputs": _jsonable(r.inputs),
                }
                for r in run.resources
            ],
            "warnings": run.warnings,
            "violations": [v.__dict__ for v in violations],
        }
        typer.echo(json.dumps(body, indent=2, sort_keys=True))
    else:
        _print_tree(run, violations)
    if any(v.enforcement == "mandatory" for v in violations):
        raise typer.Exit(1)


@infra_app.command("targets")
def targets(
    layer: Annotated[
        list[str] | None, typer.Option(help=f"one or more of {', '.join(LAYERS)}")
    ] = None,
    resource: Annotated[
        list[str] | None,
        typer.Option(help="logical resource name(s), e.g. secret-hmac-keys"),
    ] = None,
    stack: Annotated[str, typer.Option(help="dev, staging, prod or pr-<n>")] = "dev",
    dependencies: Annotated[
        bool,
        typer.Option(
            "--dependencies/--exact",
            help="also list everything they depend on, transitively (default): "
            "`pulumi up --target` refuses a resource whose dependency or parent is "
            "neither deployed nor targeted",
        ),
    ] = True,
) -> None:
    """Print `--target=<urn>` for every resource of the layer(s) or of the named
    resources and, by default, for every resource and component they depend on
    (transitively), for `pulumi up`: the URNs come from the program itself, so a moved
    or renamed resource cannot leave a deploy script pointing at nothing, and a
    targeted deploy on a fresh stack creates what it needs first."""
    layers, named = set(layer or []), set(resource or [])
    if not layers and not named:
        raise typer.BadParameter("give --layer or --resource")
    unknown = sorted(layers - set(LAYERS))
    if unknown:
        raise typer.BadParameter(f"unknown layer(s) {unknown}; choose from {LAYERS}")
    from salesphere_tools.cli.infra_check import run_preview

    run, _ = run_preview(stack, {})
    missing = sorted(named - {r.name for r in run.resources})
    if missing:
        raise typer.BadParameter(
            f"stack {stack} declares no resource named {missing}; "
            "see `salesphere infra preview --stack " + stack + "`"
        )
    chosen = [r.name for r in run.resources if r.layer in layers or r.name in named]
    if dependencies:
        from salesphere_tools.infra_graph import closure

        listed = closure(run, chosen)
    else:
        listed = [r for r in run.resources if r.name in set(chosen)]
    for r in listed:
        typer.echo(f"--target={r.urn}")


@infra_app.command("check")
def check(
    stack: Annotated[
        list[str] | None,
        typer.Option(help="stack(s) to check; default dev, staging, prod and pr-1"),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            help="run only these checks (stacks, limits, bundles, sql, iam, apis, agents, "
            "audiences, analysts)"
        ),
    ] = None,
) -> None:
    """Check offline what `pulumi up` would deploy: stacks, limits, bundles, SQL, IAM.

    Prints a table of what passed and the first fix for what did not; exits 1 if
    anything failed.
    """
    from salesphere_tools.cli.infra_check import CHECKS, DEFAULT_STACKS, render, run_checks

    names = list(only or CHECKS)
    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        raise typer.BadParameter(f"unknown check(s) {unknown}; choose from {list(CHECKS)}")
    rows = run_checks(names, list(stack or DEFAULT_STACKS))
    render(rows)
    if not all(row.ok for row in rows):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.add_typer(infra_app, name="infra")
