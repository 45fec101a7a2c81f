"""Typed stack settings, read once from ``pulumi.Config`` and handed to every layer.

Components never call ``pulumi.Config`` themselves: a setting has one name, one type and
one default, here. Defaults depend on the *kind* of stack, derived from its name, so an
ephemeral ``pr-<n>`` stack needs no ``Pulumi.pr-<n>.yaml`` at all:

* ``dev`` / ``staging``: long-lived, deletion protection on, Pulumi ``protect`` off;
* ``prod``: like staging plus ``protect=True`` on data (buckets, datasets, tables);
* ``pr-<n>``: throwaway; no deletion protection, buckets force-destroyed, tables expire
  after a few days, no scheduler job (the 3 free jobs are per billing account).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

LONG_LIVED_STACKS = ("dev", "staging", "prod")
EPHEMERAL_STACK = re.compile(r"^pr-(\d+)$")
#: Where ephemeral stacks go when nothing says otherwise: a project set aside for CI.
DEFAULT_EPHEMERAL_PROJECT = "salesphere-ci"
#: Regions whose Standard storage is in Cloud Storage's Always Free tier.
FREE_TIER_REGIONS = ("us-central1", "us-east1", "us-west1")
#: Cloud Scheduler gives 3 free jobs per billing account.
FREE_SCHEDULER_JOBS = 3

Runtime = Literal["function", "dataflow"]
RUNTIMES: tuple[str, ...] = ("function", "dataflow")


class SettingsError(ValueError):
    """A stack's configuration cannot be used; the message says which key to fix and how."""


@dataclass(frozen=True)
class StackSettings:
    """Everything the program needs to know about one stack."""

    stack: str
    project: str
    region: str
    ephemeral: bool
    #: Pulumi ``protect`` on data resources: ``pulumi destroy`` refuses to delete them.
    protect: bool
    #: GCP-side deletion protection (BigQuery tables, secrets).
    deletion_protection: bool
    #: Buckets are emptied and deleted with the stack (ephemeral stacks only by default).
    force_destroy: bool
    #: Default expiry of every table in the stack's datasets; ``None`` keeps tables.
    table_expiration_days: int | None
    #: How long unacknowledged messages are kept in a subscription (Pub/Sub's max is 7).
    message_retention_days: int
    #: ``speed.events`` partitions older than this are dropped (batch has absorbed them).
    speed_retention_days: int
    landing_retention_days: int
    quarantine_retention_days: int
    artifacts_retention_days: int
    archive_nearline_after_days: int
    archive_coldline_after_days: int
    scheduler_enabled: bool
    batch_schedule: str
    batch_time_zone: str
    speed_runtime: Runtime
    batch_runtime: Runtime
    #: Dataflow has no free tier: a stack must say so explicitly before it gets a job.
    dataflow_opt_in: bool
    function_max_instances: int
    #: Members allowed to call the ingest HTTP function (e.g. an integrator's service account).
    ingest_invokers: tuple[str, ...] = ()
    #: The analysts' Google group (``group:<email>``): may query the serving views and
    #: nothing else (infra/analysts.py). Empty: no analyst grants.
    analyst_group: str = ""
    #: Secret Manager version mounted as SALESPHERE_HMAC_KEYS in the ingest functions,
    #: always: ingest refuses to start without keys (fail closed). Add a version before
    #: the first full ``pulumi up`` (docs/infra.md, "HMAC keys").
    hmac_secret_version: str = "latest"
    extra_labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def env(self) -> str:
        """The environment name used in bucket names and labels: the stack name itself."""
        return self.stack

    def labels(self, layer: str) -> dict[str, str]:
        """Labels every labelable resource carries, so billing reports split by env and layer."""
        return {**self.extra_labels, "env": self.env, "layer": layer, "managed-by": "pulumi"}


def stack_kind(stack: str) -> str:
    """``ephemeral`` for pr-<n>, the name itself for dev/staging/prod; an error otherwise."""
    if EPHEMERAL_STACK.match(stack):
        return "ephemeral"
    if stack in LONG_LIVED_STACKS:
        return stack
    raise SettingsError(
        f"unknown stack {stack!r}: use dev, staging, prod or pr-<number> "
        "(e.g. `pulumi stack init pr-42`)"
    )


def _defaults(kind: str) -> dict[str, object]:
    ephemeral = kind == "ephemeral"
    return {
        "region": "us-central1",
        "protect": kind == "prod",
        "deletion_protection": not ephemeral,
        "force_destroy": ephemeral,
        "table_expiration_days": 3 if ephemeral else None,
        "message_retention_days": 1 if ephemeral else 7,
        "speed_retention_days": 2 if ephemeral else 14,
        "landing_retention_days": 3 if ephemeral else 30,
        "quarantine_retention_days": 3 if ephemeral else 90,
        "artifacts_retention_days": 3 if ephemeral else 180,
        "archive_nearline_after_days": 30,
        "archive_coldline_after_days": 90,
        "scheduler_enabled": not ephemeral,
        "batch_schedule": "15 3 * * *",
        "batch_time_zone": "America/Sao_Paulo",
        "speed_runtime": "function",
        "batch_runtime": "function",
        "dataflow_opt_in": False,
        "function_max_instances": 2 if ephemeral else 5,
        "ingest_invokers": [],
        "analyst_group": "",
        "hmac_secret_version": "latest",
        "extra_labels": {},
    }


def _coerce(key: str, raw: object, default: object) -> object:
    """Turn a config value (Pulumi hands over strings) into the default's type."""
    if isinstance(raw, str) and not isinstance(default, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            expected = "true or false" if isinstance(default, bool) else f"like {default!r}"
            raise SettingsError(
                f"salesphere:{key} = {raw!r} is not valid; it must be {expected}"
            ) from exc
    if isinstance(default, bool):
        if not isinstance(raw, bool):
            raise SettingsError(f"salesphere:{key} must be true or false, got {raw!r}")
        return raw
    if isinstance(default, int) or (default is None and key.endswith("_days")):
        if raw is None:
            return None
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
            raise SettingsError(
                f"salesphere:{key} must be a non-negative whole number, got {raw!r}"
            )
        return raw
    if isinstance(default, list):
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise SettingsError(f"salesphere:{key} must be a list of strings, got {raw!r}")
        return tuple(raw)
    if isinstance(default, dict):
        if not isinstance(raw, dict):
            raise SettingsError(f"salesphere:{key} must be a mapping, got {raw!r}")
        return {str(k): str(v) for k, v in raw.items()}
    return str(raw)


def settings_from(
    stack: str,
    values: Mapping[str, object],
    gcp_project: str | None = None,
    gcp_region: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> StackSettings:
    """Build settings from raw ``salesphere:*`` values (keys without the namespace).

    Pure, so the defaults per stack kind are testable without Pulumi.
    """
    kind = stack_kind(stack)
    env = os.environ if environ is None else environ
    defaults = _defaults(kind)
    unknown = set(values) - set(defaults) - {"project"}
    if unknown:
        raise SettingsError(
            f"unknown setting(s) salesphere:{', salesphere:'.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(defaults))}"
        )
    resolved = {
        key: _coerce(key, values[key], default) if key in values else default
        for key, default in defaults.items()
    }
    if isinstance(resolved["ingest_invokers"], list):
        resolved["ingest_invokers"] = tuple(resolved["ingest_invokers"])
    if gcp_region and "region" not in values:
        resolved["region"] = gcp_region
    project = _project(stack, kind, values, gcp_project, env)
    _check(resolved)
    return StackSettings(stack=stack, project=project, ephemeral=kind == "ephemeral", **resolved)  # type: ignore[arg-type]


def _project(
    stack: str,
    kind: str,
    values: Mapping[str, object],
    gcp_project: str | None,
    env: Mapping[str, str],
) -> str:
    """The stack's GCP project: its own setting, then ``gcp:project``, then the environment."""
    project = (
        str(values.get("project") or "")
        or gcp_project
        or env.get("GOOGLE_CLOUD_PROJECT")
        or (DEFAULT_EPHEMERAL_PROJECT if kind == "ephemeral" else "")
    )
    if not project:
        raise SettingsError(
            f"stack {stack!r} has no GCP project: run `pulumi config set gcp:project <id> "
            f"--stack {stack}` (or add it to Pulumi.{stack}.yaml)"
        )
    return project


def _check(resolved: Mapping[str, object]) -> None:
    """Refuse combinations of settings that would deploy something wrong or costly."""
    for key in ("speed_runtime", "batch_runtime"):
        if resolved[key] not in RUNTIMES:
            raise SettingsError(
                f"salesphere:{key} must be one of {', '.join(RUNTIMES)}, got {resolved[key]!r}"
            )
    if resolved["batch_runtime"] == "dataflow" and resolved["dataflow_opt_in"] is not True:
        # No standing job for the guardrails to see: each run is launched by the batch
        # function, so the cost opt-in is checked here, before anything is provisioned.
        raise SettingsError(
            "salesphere:batch_runtime=dataflow launches a billed Dataflow job on every batch "
            "run (no free tier); set salesphere:dataflow_opt_in=true if you accept the cost, "
            "or keep batch_runtime=function"
        )
    group = str(resolved["analyst_group"])
    if group and (not group.startswith("group:") or "@" not in group):
        raise SettingsError(
            f"salesphere:analyst_group = {group!r} must be 'group:<email>' (a Google group: "
            "access follows membership, so people join and leave without a deploy)"
        )
    if int(resolved["message_retention_days"]) not in range(1, 8):  # type: ignore[call-overload]
        raise SettingsError("salesphere:message_retention_days must be 1..7 (Pub/Sub's limit)")


def read_settings() -> StackSettings:
    """Read the current stack's settings from ``pulumi.Config`` (call after the runtime is set)."""
    import pulumi

    ours = pulumi.Config("salesphere")
    gcp = pulumi.Config("gcp")
    keys = [*_defaults("ephemeral"), "project"]
    values = {key: ours.get(key) for key in keys if ours.get(key) is not None}
    return settings_from(
        pulumi.get_stack(), values, gcp_project=gcp.get("project"), gcp_region=gcp.get("region")
    )


def repo_root() -> Path:
    """The repository root (``infra/`` lives directly under it; so do the stack files)."""
    return Path(__file__).resolve().parent.parent


def stack_config(stack: str, root: Path | None = None) -> dict[str, str]:
    """``config:`` of ``Pulumi.<stack>.yaml`` as the engine passes it (strings); {} if none.

    Encrypted (``secure:``) values are skipped: only the real CLI can decrypt them.
    """
    path = (root or repo_root()) / f"Pulumi.{stack}.yaml"
    if not path.exists():
        return {}
    body = yaml.safe_load(path.read_text()) or {}
    out: dict[str, str] = {}
    for key, value in (body.get("config") or {}).items():
        if isinstance(value, dict) and "secure" in value:
            continue
        out[key] = value if isinstance(value, str) else json.dumps(value)
    return out


def settings_for_stack(
    stack: str, overrides: Mapping[str, object] | None = None, root: Path | None = None
) -> StackSettings:
    """Settings of ``stack`` from its YAML (if any) plus overrides, without Pulumi's runtime."""
    config: dict[str, object] = {**stack_config(stack, root), **(overrides or {})}
    ours = {
        key.split(":", 1)[1]: value
        for key, value in config.items()
        if key.startswith("salesphere:")
    }
    return settings_from(
        stack,
        ours,
        gcp_project=str(config.get("gcp:project") or "") or None,
        gcp_region=str(config.get("gcp:region") or "") or None,
    )
