"""Run the real program in-process under Pulumi's mocks and record the resource graph.

Used by the tests, by ``salesphere infra preview`` and by the deploy workflow (to list the
URNs of one layer for ``pulumi up --target``), so all three see exactly the resources a
real ``pulumi up`` would declare, with no cloud credentials and no Pulumi CLI.

Pitfalls of Pulumi's mocks handled here: inputs arrive camelCase with numbers as floats;
computed outputs (emails, URLs, ids) must be mocked or inputs built from them vanish;
``preview=False`` so ``apply`` callbacks run; config is set *after* ``set_mocks``; and
``protect``/``parent``/dependencies are only visible to a custom monitor, below.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.settings import stack_config

PROJECT_NAME = "salesphere"
MOCK_PROJECT_NUMBER = "123456789012"


@dataclass(frozen=True)
class Recorded:
    """One declared resource: what ``pulumi up`` would be asked to create."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    protect: bool
    parent: str
    dependencies: tuple[str, ...]
    #: What the mocks answered (computed outputs such as a function's URLs).
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def layer(self) -> str:
        """The component (layer) that owns it, from the URN's type chain."""
        first = self.urn.split("::")[2].split("$")[0]
        if not first.startswith("salesphere:infra:"):
            return ""
        component = first.rsplit(":", 1)[-1].lower()
        from infra import speed  # the one component whose deployed name is not its layer's

        return speed.LAYER if component == speed.DEPLOYED_NAME else component


@dataclass
class ProgramRun:
    """The recorded graph of one stack plus anything the program logged."""

    stack: str
    resources: list[Recorded]
    warnings: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def by_name(self, name: str) -> Recorded:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]


class _Mocks(pulumi.runtime.Mocks):
    """Computed outputs that real GCP would return, so dependent inputs stay populated."""

    def __init__(self) -> None:
        self.inputs: dict[tuple[str, str], dict[str, Any]] = {}
        self.outputs: dict[tuple[str, str], dict[str, Any]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        resource_id, outputs = self._answer(args)
        self.outputs[(args.typ, args.name)] = outputs
        return resource_id, outputs

    def _answer(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        self.inputs[(args.typ, args.name)] = inputs
        outputs = dict(inputs)
        project = inputs.get("project", "mock-project")
        name = inputs.get("name", args.name)
        token = hashlib.sha256(f"{args.typ}/{args.name}".encode()).hexdigest()[:8]
        if args.typ == "gcp:serviceaccount/account:Account":
            email = f"{inputs['accountId']}@{project}.iam.gserviceaccount.com"
            outputs.update(email=email, name=f"projects/{project}/serviceAccounts/{email}")
            return f"projects/{project}/serviceAccounts/{email}", outputs
        if args.typ == "gcp:cloudfunctionsv2/function:Function":
            region = inputs.get("location")
            outputs["url"] = f"https://{region}-{project}.cloudfunctions.net/{name}"
            outputs["serviceConfig"] = {
                **inputs.get("serviceConfig", {}),
                "uri": f"https://{name}-{token}-uc.a.run.app",
            }
            return (
                f"projects/{project}/locations/{inputs.get('location')}/functions/{name}",
                outputs,
            )
        if args.typ == "gcp:projects/serviceIdentity:ServiceIdentity":
            agent = inputs["service"].split(".")[0]
            email = f"service-{MOCK_PROJECT_NUMBER}@gcp-sa-{agent}.iam.gserviceaccount.com"
            outputs.update(email=email, member=f"serviceAccount:{email}")
            return f"projects/{MOCK_PROJECT_NUMBER}/services/{inputs['service']}", outputs
        if args.typ == "gcp:artifactregistry/repository:Repository":
            repo = f"projects/{project}/locations/{inputs['location']}/repositories"
            outputs["name"] = inputs["repositoryId"]
            return f"{repo}/{inputs['repositoryId']}", outputs
        if args.typ == "gcp:storage/bucket:Bucket":
            outputs["url"] = f"gs://{name}"
            return name, outputs
        if args.typ == "gcp:pubsub/topic:Topic":
            return f"projects/{project}/topics/{name}", outputs
        if args.typ == "gcp:pubsub/subscription:Subscription":
            return f"projects/{project}/subscriptions/{name}", outputs
        if args.typ == "gcp:bigquery/dataset:Dataset":
            return f"projects/{project}/datasets/{inputs['datasetId']}", outputs
        if args.typ == "gcp:secretmanager/secret:Secret":
            outputs["name"] = f"projects/{MOCK_PROJECT_NUMBER}/secrets/{inputs['secretId']}"
            return outputs["name"], outputs
        return f"{args.name}-{token}", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "gcp:organizations/getProject:getProject":
            return {"number": MOCK_PROJECT_NUMBER, "projectId": args.args.get("projectId")}
        if args.token == "gcp:storage/getProjectServiceAccount:getProjectServiceAccount":
            return {
                "emailAddress": (
                    f"service-{MOCK_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com"
                )
            }
        raise NotImplementedError(f"no mock for {args.token}; add one in infra/mocking.py")


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """Keeps the registration options the stock monitor throws away."""

    def __init__(self, mocks: _Mocks) -> None:
        super().__init__(mocks)
        self.options: dict[str, dict[str, Any]] = {}
        self.order: list[tuple[str, str, str]] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """Like the engine: the root stack is not part of a child's qualified type."""
        if parent.split("::")[2:3] == ["pulumi:pulumi:Stack"]:
            parent = ""
        return super().make_urn(parent, type_, name)

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.order.append((response.urn, request.type, request.name))
            self.options[response.urn] = {
                "protect": bool(request.protect),
                "parent": request.parent,
                "dependencies": tuple(request.dependencies),
            }
        return response


def run_program(
    stack: str, overrides: Mapping[str, Any] | None = None, root: Path | None = None
) -> ProgramRun:
    """Run ``infra.program.build`` for ``stack`` under mocks and return what it declared.

    ``overrides`` are extra config keys (``"salesphere:scheduler_enabled": True``), applied
    over the stack's YAML, the way ``pulumi config set`` would.
    """
    from infra.program import build

    config = stack_config(stack, root)
    for key, value in (overrides or {}).items():
        config[key] = value if isinstance(value, str) else json.dumps(value)

    warnings: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                warnings.append(record.getMessage())

    logger = logging.getLogger(f"salesphere.infra.preview.{stack}")
    logger.propagate = False
    logger.handlers = [_Collect()]

    mocks = _Mocks()
    monitor = _RecordingMonitor(mocks)
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT_NAME, stack=stack, preview=False, logger=logger, monitor=monitor
    )
    pulumi.runtime.set_all_config(config)
    pulumi_settings.SETTINGS.rpc_manager.clear()
    pulumi_settings.SETTINGS.outputs.clear()
    _sync_await(run_pulumi_func(build))

    resources = []
    for urn, type_, name in monitor.order:
        options = monitor.options[urn]
        resources.append(
            Recorded(
                urn=urn,
                type=type_,
                name=name,
                inputs=mocks.inputs.get((type_, name), {}),
                protect=options["protect"],
                parent=options["parent"],
                dependencies=options["dependencies"],
                outputs=mocks.outputs.get((type_, name), {}),
            )
        )
    return ProgramRun(stack=stack, resources=resources, warnings=warnings)
