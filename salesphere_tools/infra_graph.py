"""Checks over a stack's recorded resource graph: API order, service agents, targets.

What only a live ``pulumi up`` on a fresh project would show (a resource racing the API it
calls, a grant to a service agent that does not exist yet, ``--target`` refusing an
untargeted dependency) is decided by the graph the program declares, so it is checked
here on the graph recorded under mocks (:func:`infra.mocking.run_program`). The tests and
``salesphere infra check`` call these functions; ``salesphere infra targets`` prints
:func:`closure`.
"""

from __future__ import annotations

from collections.abc import Iterable

from infra.apis import API_FOR_TYPE, IAM, SERVICE_AGENTS
from infra.mocking import ProgramRun, Recorded

SERVICE = "gcp:projects/service:Service"
SERVICE_IDENTITY = "gcp:projects/serviceIdentity:ServiceIdentity"
ACCOUNT = "gcp:serviceaccount/account:Account"


def _by_urn(run: ProgramRun) -> dict[str, Recorded]:
    return {r.urn: r for r in run.resources}


def ancestors(resource: Recorded, index: dict[str, Recorded]) -> list[Recorded]:
    """The resource's parents up to (not including) the stack, nearest first."""
    out = []
    parent = index.get(resource.parent)
    while parent is not None:
        out.append(parent)
        parent = index.get(parent.parent)
    return out


def waits_for(resource: Recorded, index: dict[str, Recorded]) -> set[str]:
    """URNs the engine creates before ``resource``: its own and its ancestors' dependencies."""
    urns = set(resource.dependencies)
    for parent in ancestors(resource, index):
        urns |= set(parent.dependencies)
    return urns


def api_problems(run: ProgramRun) -> list[str]:
    """Resources that may be created before an API their type needs is enabled."""
    index = _by_urn(run)
    enabled = {r.urn: r.inputs["service"] for r in run.of_type(SERVICE)}
    problems = []
    for r in run.resources:
        if not r.type.startswith("gcp:"):
            continue
        if r.type not in API_FOR_TYPE:
            problems.append(f"{r.name}: type {r.type} is not in infra/apis.py API_FOR_TYPE")
            continue
        needed = set(API_FOR_TYPE[r.type])
        if r.type == SERVICE_IDENTITY:  # an agent exists only once its own API is on
            needed.add(r.inputs["service"])
        have = {enabled[u] for u in waits_for(r, index) if u in enabled}
        missing = sorted(needed - have)
        if missing:
            problems.append(f"{r.name} ({r.type.split(':')[-1]}) does not wait for {missing}")
    return problems


def agent_problems(run: ProgramRun) -> list[str]:
    """Grants to a Google service agent the program does not create (and wait for) first."""
    index = _by_urn(run)
    identities = {r.urn: r.inputs["service"] for r in run.of_type(SERVICE_IDENTITY)}
    problems = []
    for r in run.resources:
        member = r.inputs.get("member")
        if not isinstance(member, str) or "role" not in r.inputs:
            continue
        agent = next((a for a in SERVICE_AGENTS if f"@{a}." in member), None)
        if agent is None:
            continue
        created = {identities[u] for u in waits_for(r, index) if u in identities}
        if SERVICE_AGENTS[agent] not in created:
            problems.append(
                f"{r.name} grants {r.inputs['role']} to the {agent} agent before "
                f"gcp.projects.ServiceIdentity creates it"
            )
    for agent, api in SERVICE_AGENTS.items():
        if any(f"@{agent}." in str(r.inputs.get("member", "")) for r in run.resources) and (
            api not in identities.values()
        ):
            problems.append(f"no gcp.projects.ServiceIdentity for {api} ({agent})")
    return problems


def account_problems(run: ProgramRun) -> list[str]:
    """Service accounts that do not wait for iam.googleapis.com."""
    index = _by_urn(run)
    enabled = {r.urn: r.inputs["service"] for r in run.of_type(SERVICE)}
    return [
        f"{r.name} does not wait for {IAM}"
        for r in run.of_type(ACCOUNT)
        if IAM not in {enabled[u] for u in waits_for(r, index) if u in enabled}
    ]


def closure(run: ProgramRun, names: Iterable[str]) -> list[Recorded]:
    """The named resources and everything they depend on, transitively, in program order.

    ``pulumi up --target`` refuses to create a resource whose parent or dependency is
    neither in the stack nor targeted; every dependency and every parent (component
    included) is therefore part of the closure, and so are theirs.
    """
    index = _by_urn(run)
    by_name = {r.name: r for r in run.resources}
    todo = [by_name[name].urn for name in names]
    seen: set[str] = set()
    while todo:
        urn = todo.pop()
        if urn in seen or urn not in index:
            continue
        seen.add(urn)
        resource = index[urn]
        todo.extend(resource.dependencies)
        if resource.parent:
            todo.append(resource.parent)
    return [r for r in run.resources if r.urn in seen]


TABLE = "gcp:bigquery/table:Table"
DATASET_ACCESS = "gcp:bigquery/datasetAccess:DatasetAccess"
SERVING = "serving"


def _grants_of(run: ProgramRun, member: str) -> list[tuple[str, str, str]]:
    """(role, scope, target) of every grant to ``member`` in the graph."""
    from salesphere_tools.iam_check import MEMBER_TYPES, member_and_role

    out = []
    for r in run.resources:
        if r.type not in MEMBER_TYPES:
            continue
        who, role = member_and_role(r.type, r.inputs)
        if who == member:
            scope, key = MEMBER_TYPES[r.type]
            out.append((role, scope, str(r.inputs[key])))
    return out


def _can(run: ProgramRun, member: str, permission: str, dataset: str | None) -> bool:
    """Does ``member`` hold ``permission`` on ``dataset`` (or on the project if None)?"""
    from infra.roles import permissions

    project = run.by_name("dataset-master").inputs["project"]
    for role, scope, target in _grants_of(run, member):
        if permission not in permissions(role):
            continue
        if scope == "project" and target == project:
            return True
        if scope == "dataset" and dataset is not None and target == dataset:
            return True
    return False


def analyst_problems(run: ProgramRun, member: str) -> tuple[list[str], int, int]:
    """Can ``member`` query every serving view, and read no table directly?

    A query needs ``bigquery.jobs.create`` on the project and ``tables.getData`` on the
    view; the view then reads its tables with its own authority when their dataset
    authorises ``serving`` (an authorised dataset), else with the caller's. Returns the
    problems, the number of views checked and the number of tables checked.
    """
    index = _by_urn(run)
    tables = [r for r in run.of_type(TABLE) if not r.inputs.get("view")]
    views = [r for r in run.of_type(TABLE) if r.inputs.get("view")]
    authorising = {
        r.inputs["datasetId"]
        for r in run.of_type(DATASET_ACCESS)
        if (r.inputs.get("authorizedDataset") or {}).get("dataset", {}).get("datasetId") == SERVING
        and "VIEWS" in (r.inputs.get("authorizedDataset") or {}).get("targetTypes", [])
    }
    problems = []
    if not _can(run, member, "bigquery.jobs.create", None):
        problems.append(f"{member} cannot run query jobs in the project")
    for view in views:
        if view.inputs["datasetId"] != SERVING:
            problems.append(f"view {view.name} is outside the serving dataset")
            continue
        if not _can(run, member, "bigquery.tables.getData", SERVING):
            problems.append(f"{member} cannot read view {view.inputs['tableId']}")
        for dep in view.dependencies:
            read = index.get(dep)
            if read is None or read.type != TABLE or read.inputs.get("view"):
                continue
            dataset = read.inputs["datasetId"]
            if dataset not in authorising and not _can(
                run, member, "bigquery.tables.getData", dataset
            ):
                problems.append(
                    f"view {view.inputs['tableId']} reads {dataset}.{read.inputs['tableId']}, "
                    f"but {dataset} does not authorise the serving views"
                )
    for table in tables:
        dataset = table.inputs["datasetId"]
        if dataset == SERVING:
            problems.append(f"table {table.inputs['tableId']} in serving is readable as a view")
        elif _can(run, member, "bigquery.tables.getData", dataset):
            problems.append(f"{member} can read {dataset}.{table.inputs['tableId']} directly")
    return problems, len(views), len(tables)


FUNCTION = "gcp:cloudfunctionsv2/function:Function"
SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
SCHEDULER = "gcp:cloudscheduler/job:Job"


def endpoint_problems(run: ProgramRun) -> list[str]:
    """Pushes and the schedule call each function's run.app URL and name it as the token
    audience; ingest-http accepts exactly its own two URLs (salesphere/endpoints.py)."""
    from infra.mocking import MOCK_PROJECT_NUMBER
    from salesphere import endpoints

    uris = {
        r.outputs.get("url", ""): (r.outputs.get("serviceConfig") or {}).get("uri", "")
        for r in run.of_type(FUNCTION)
    }
    known = set(uris.values())
    problems = []
    for sub in run.of_type(SUBSCRIPTION):
        push = sub.inputs.get("pushConfig")
        if not push:
            continue
        endpoint, audience = push.get("pushEndpoint"), push.get("oidcToken", {}).get("audience")
        if endpoint not in known or audience != endpoint:
            problems.append(
                f"{sub.name} pushes to {endpoint} with audience {audience}; both must be the "
                "function's service_config.uri (infra/functions.py: invoke_url)"
            )
    for job in run.of_type(SCHEDULER):
        target = job.inputs.get("httpTarget", {})
        if target.get("uri") not in known or target.get("oidcToken", {}).get(
            "audience"
        ) != target.get("uri"):
            problems.append(f"{job.name} calls {target.get('uri')}, not a function's run.app URL")
    fn = run.by_name("fn-ingest-http")
    env = fn.inputs["serviceConfig"].get("environmentVariables", {})
    accepted = tuple(a for a in env.get("SALESPHERE_INGEST_OIDC_AUDIENCES", "").split(",") if a)
    project, region = fn.inputs["project"], fn.inputs["location"]
    expected = endpoints.audiences("ingest-http", project, MOCK_PROJECT_NUMBER, region)
    if accepted != expected:
        problems.append(f"ingest-http accepts audiences {accepted}, expected {expected}")
    return problems
