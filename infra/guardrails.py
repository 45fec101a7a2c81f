"""Free-tier and least-privilege guardrails as plain functions over a resource graph.

Each policy takes every resource of a stack (type, URN, camelCase properties: the shape
both Pulumi's mocks and CrossGuard hand over) and yields violations. The same functions
run in pytest, in ``salesphere infra preview`` and, wrapped by ``infra/policy``, as a
CrossGuard policy pack (``pulumi preview --policy-pack infra/policy``). Kept free of any
Pulumi import so the pack's own virtualenv needs nothing but ``pulumi-policy``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.settings import FREE_SCHEDULER_JOBS, FREE_TIER_REGIONS

MANDATORY = "mandatory"
ADVISORY = "advisory"
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
PRIMITIVE_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
REQUIRED_LABELS = ("env", "layer", "managed-by")
#: Pub/Sub subscriptions keep unacked messages at most 7 days; more is not "bounded".
MAX_SUBSCRIPTION_RETENTION_S = 7 * 86400
MAX_TOPIC_RETENTION_S = 31 * 86400
LABELED_TYPES = frozenset(
    {
        "gcp:storage/bucket:Bucket",
        "gcp:pubsub/topic:Topic",
        "gcp:pubsub/subscription:Subscription",
        "gcp:bigquery/dataset:Dataset",
        "gcp:bigquery/table:Table",
        "gcp:cloudfunctionsv2/function:Function",
        "gcp:secretmanager/secret:Secret",
        "gcp:dataflow/flexTemplateJob:FlexTemplateJob",
        "gcp:dataflow/job:Job",
    }
)
DATAFLOW_TYPES = frozenset({"gcp:dataflow/flexTemplateJob:FlexTemplateJob", "gcp:dataflow/job:Job"})
SCHEDULER_JOB = "gcp:cloudscheduler/job:Job"
BUCKET = "gcp:storage/bucket:Bucket"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
RUN_INVOKER_MEMBER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
#: The one function reachable from the internet: POS systems that can only sign HMAC have
#: no Google identity to pass Cloud Run's invoker check, so ingest-http takes every
#: caller at the platform and authenticates each request in code (docs/infra.md). Every
#: other function is private: internal ingress and named invokers only.
PUBLIC_FUNCTION = "ingest-http"
INTERNAL_INGRESS = "ALLOW_INTERNAL_ONLY"


@dataclass(frozen=True)
class Resource:
    """A declared resource as a policy sees it."""

    urn: str
    type: str
    name: str
    props: Mapping[str, Any]


@dataclass(frozen=True)
class Violation:
    policy: str
    urn: str
    message: str
    enforcement: str = MANDATORY


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    check: Callable[[Sequence[Resource]], Iterable[Violation]]
    enforcement: str = MANDATORY


def _seconds(duration: object) -> float | None:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(duration or ""))
    return float(match.group(1)) if match else None


def _members(props: Mapping[str, Any]) -> list[str]:
    """Members of an IAM member, binding or policy resource (policyData is JSON text)."""
    found = [props["member"]] if isinstance(props.get("member"), str) else []
    found += [m for m in props.get("members") or [] if isinstance(m, str)]
    # a BigQuery dataset ACL entry (gcp.bigquery.DatasetAccess)
    found += [props[k] for k in ("specialGroup", "iamMember") if isinstance(props.get(k), str)]
    policy_data = props.get("policyData")
    if isinstance(policy_data, str):
        found += re.findall(r'"(allUsers|allAuthenticatedUsers)"', policy_data)
    return found


def _roles(props: Mapping[str, Any]) -> list[str]:
    found = [props["role"]] if isinstance(props.get("role"), str) else []
    policy_data = props.get("policyData")
    if isinstance(policy_data, str):
        found += re.findall(r'"(roles/[A-Za-z.]+)"', policy_data)
    return found


def scheduler_jobs_within_free_tier(resources: Sequence[Resource]) -> Iterator[Violation]:
    jobs = [r for r in resources if r.type == SCHEDULER_JOB]
    if len(jobs) > FREE_SCHEDULER_JOBS:
        yield Violation(
            "free-tier-scheduler-jobs",
            jobs[-1].urn,
            f"{len(jobs)} Cloud Scheduler jobs; the free tier has {FREE_SCHEDULER_JOBS} per "
            "billing account (paused jobs count). Merge schedules or disable some with "
            "salesphere:scheduler_enabled=false.",
        )


def storage_in_free_region(resources: Sequence[Resource]) -> Iterator[Violation]:
    free = {region.upper() for region in FREE_TIER_REGIONS}
    for r in resources:
        if r.type != BUCKET:
            continue
        location = str(r.props.get("location", "")).upper()
        if location not in free:
            yield Violation(
                "free-tier-storage-region",
                r.urn,
                f"bucket {r.props.get('name')} is in {location or 'no location'}; free-tier "
                f"storage exists only in {', '.join(FREE_TIER_REGIONS)} (set gcp:region).",
            )
        if str(r.props.get("storageClass", "STANDARD")).upper() != "STANDARD":
            yield Violation(
                "free-tier-storage-region",
                r.urn,
                f"bucket {r.props.get('name')} starts in {r.props.get('storageClass')}; the "
                "free tier covers STANDARD only (use lifecycle rules to cool old objects).",
            )


def dataflow_needs_opt_in(resources: Sequence[Resource]) -> Iterator[Violation]:
    for r in resources:
        if r.type in DATAFLOW_TYPES:
            labels = r.props.get("labels") or {}
            if labels.get("cost-opt-in") != "dataflow":
                yield Violation(
                    "dataflow-opt-in",
                    r.urn,
                    f"Dataflow job {r.name} has no free tier and the stack did not opt in; "
                    "set salesphere:dataflow_opt_in=true if you accept the cost, or use the "
                    "function runtime.",
                )


def retention_is_bounded(resources: Sequence[Resource]) -> Iterator[Violation]:
    for r in resources:
        props = r.props
        if r.type == "gcp:pubsub/subscription:Subscription":
            seconds = _seconds(props.get("messageRetentionDuration"))
            if seconds is None or seconds > MAX_SUBSCRIPTION_RETENTION_S:
                yield Violation(
                    "bounded-retention",
                    r.urn,
                    f"subscription {props.get('name')} must set messageRetentionDuration "
                    "<= 7 days (salesphere:message_retention_days).",
                )
            if props.get("retainAckedMessages"):
                yield Violation(
                    "bounded-retention",
                    r.urn,
                    f"subscription {props.get('name')} retains acked messages (billed storage); "
                    "the archive already keeps every envelope.",
                )
        elif r.type == "gcp:pubsub/topic:Topic":
            seconds = _seconds(props.get("messageRetentionDuration"))
            if seconds is not None and seconds > MAX_TOPIC_RETENTION_S:
                yield Violation(
                    "bounded-retention",
                    r.urn,
                    f"topic {props.get('name')} retains messages more than 31 days.",
                )
        elif r.type == BUCKET and not props.get("lifecycleRules"):
            yield Violation(
                "bounded-retention",
                r.urn,
                f"bucket {props.get('name')} has no lifecycle rule; objects would be kept in "
                "STANDARD forever (add delete_after/move_after in infra).",
            )


def _is_the_public_ingest_invoker(r: Resource) -> bool:
    """``allUsers`` may invoke ``ingest-http`` through Cloud Run, and nothing else."""
    return (
        r.type == RUN_INVOKER_MEMBER
        and r.props.get("name") == PUBLIC_FUNCTION
        and r.props.get("role") == "roles/run.invoker"
        and r.props.get("member") == "allUsers"
    )


def no_public_access(resources: Sequence[Resource]) -> Iterator[Violation]:
    for r in resources:
        public = PUBLIC_MEMBERS.intersection(_members(r.props))
        if public and not _is_the_public_ingest_invoker(r):
            yield Violation(
                "no-public-members",
                r.urn,
                f"{r.name} grants access to {', '.join(sorted(public))}; grant a specific "
                "service account or group instead.",
            )
        if r.type == BUCKET and (
            r.props.get("publicAccessPrevention") != "enforced"
            or not r.props.get("uniformBucketLevelAccess")
        ):
            yield Violation(
                "no-public-members",
                r.urn,
                f"bucket {r.props.get('name')} must have uniform bucket-level access and "
                "public access prevention 'enforced'.",
            )


def functions_are_private(resources: Sequence[Resource]) -> Iterator[Violation]:
    """Internal-only ingress for every function but ingest-http (which must stay open)."""
    for r in resources:
        if r.type != FUNCTION:
            continue
        name = r.props.get("name")
        ingress = (r.props.get("serviceConfig") or {}).get("ingressSettings")
        if name != PUBLIC_FUNCTION and ingress != INTERNAL_INGRESS:
            yield Violation(
                "private-functions",
                r.urn,
                f"function {name} has ingress {ingress or 'unset (ALLOW_ALL)'}; only "
                f"{PUBLIC_FUNCTION} is reachable from outside, set {INTERNAL_INGRESS} "
                "(Pub/Sub push and Cloud Scheduler count as internal).",
            )


def no_primitive_roles(resources: Sequence[Resource]) -> Iterator[Violation]:
    for r in resources:
        primitive = PRIMITIVE_ROLES.intersection(_roles(r.props))
        if primitive:
            yield Violation(
                "no-primitive-roles",
                r.urn,
                f"{r.name} grants {', '.join(sorted(primitive))}; use a predefined role on the "
                "specific resource (see infra/iam.py).",
            )


def labels_everywhere(resources: Sequence[Resource]) -> Iterator[Violation]:
    for r in resources:
        if r.type not in LABELED_TYPES:
            continue
        labels = r.props.get("labels") or {}
        missing = [key for key in REQUIRED_LABELS if not labels.get(key)]
        if missing or labels.get("managed-by") != "pulumi":
            yield Violation(
                "labels-everywhere",
                r.urn,
                f"{r.name} lacks labels {missing or ['managed-by=pulumi']}; use "
                "settings.labels(layer).",
            )


POLICIES: tuple[Policy, ...] = (
    Policy(
        "free-tier-scheduler-jobs",
        "At most 3 Cloud Scheduler jobs.",
        scheduler_jobs_within_free_tier,
    ),
    Policy(
        "free-tier-storage-region",
        "Buckets in a free-tier region, STANDARD class.",
        storage_in_free_region,
    ),
    Policy("dataflow-opt-in", "Dataflow only with an explicit cost opt-in.", dataflow_needs_opt_in),
    Policy(
        "bounded-retention",
        "Every message and object has a bounded lifetime.",
        retention_is_bounded,
    ),
    Policy(
        "no-public-members",
        "No allUsers/allAuthenticatedUsers (except allUsers invoking ingest-http, which "
        "authenticates every request in code); buckets not public.",
        no_public_access,
    ),
    Policy(
        "private-functions",
        "Every function but ingest-http has internal-only ingress.",
        functions_are_private,
    ),
    Policy("no-primitive-roles", "No roles/owner, roles/editor, roles/viewer.", no_primitive_roles),
    Policy(
        "labels-everywhere",
        "env, layer, managed-by=pulumi on every labelable resource.",
        labels_everywhere,
        ADVISORY,
    ),
)


def evaluate(resources: Sequence[Resource]) -> list[Violation]:
    """Every violation of every policy, mandatory ones first."""
    found = [
        Violation(v.policy, v.urn, v.message, policy.enforcement)
        for policy in POLICIES
        for v in policy.check(resources)
    ]
    return sorted(found, key=lambda v: (v.enforcement != MANDATORY, v.policy, v.urn))
