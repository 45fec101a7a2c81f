"""Role grants on one specific resource each: the only way the program hands out access.

Every grant goes through :func:`grant`, which picks the resource-level IAM member type
(topic, subscription, bucket, dataset, secret, Cloud Run service, service account). A
project-level grant is possible only for the few roles that have no narrower scope
(:data:`PROJECT_LEVEL_ROLES`); anything else is a programming error caught here, and the
guardrails catch primitive roles and public members again on the recorded graph.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_gcp as gcp

from infra.apis import needed

#: Roles that exist only at project level (running BigQuery jobs, being a Dataflow worker,
#: writing log entries).
PROJECT_LEVEL_ROLES = frozenset(
    {
        "roles/bigquery.jobUser",
        "roles/dataflow.worker",
        "roles/dataflow.developer",
        "roles/logging.logWriter",
    }
)

Scope = Literal[
    "topic", "subscription", "bucket", "dataset", "secret", "run", "sa", "repository", "project"
]


@dataclass(frozen=True)
class Grants:
    """Hands out roles inside one component: knows the project, region and parent.

    ``apis`` (API name -> its ``gcp.projects.Service``) is given where the parent does
    not already wait for every API (the foundation component owns the APIs): each grant
    then depends on the APIs its resource type needs (:data:`infra.apis.API_FOR_TYPE`).
    """

    project: str
    region: str
    parent: pulumi.Resource
    apis: Mapping[str, pulumi.Resource] = field(default_factory=dict)

    def grant(
        self,
        name: str,
        scope: Scope,
        target: pulumi.Input[str],
        role: str,
        member: pulumi.Input[str],
        depends_on: list[pulumi.Resource] | None = None,
        project_reason: str = "",
    ) -> pulumi.CustomResource:
        """Grant ``role`` to ``member`` on one resource; ``target`` is its id or name.

        ``project_reason`` allows a resource role at project level when the resource it
        belongs on cannot be named (it does not exist before the first deploy); say why.
        """
        project = self.project
        binding = _BINDINGS.get(scope)
        type_ = (
            binding.type_
            if binding
            else (
                "gcp:bigquery/datasetAccess:DatasetAccess"
                if scope == "dataset"
                else "gcp:projects/iAMMember:IAMMember"
            )
        )
        apis = [self.apis[a] for a in needed(type_) if a in self.apis]
        opts = pulumi.ResourceOptions(parent=self.parent, depends_on=[*apis, *(depends_on or [])])
        if scope == "dataset":
            return dataset_access(name, target, role, member, project, opts)
        if binding is not None:
            where: dict[str, Any] = {binding.target_arg: target}
            if binding.in_project:
                where["project"] = project
            if binding.regional:
                where["location"] = self.region
            return binding.resource(name, role=role, member=member, opts=opts, **where)
        if role not in PROJECT_LEVEL_ROLES and not project_reason:
            raise ValueError(
                f"{name}: {role} must be granted on a specific resource, not the project; "
                f"project-level grants are limited to {sorted(PROJECT_LEVEL_ROLES)}"
            )
        return gcp.projects.IAMMember(name, project=project, role=role, member=member, opts=opts)


@dataclass(frozen=True)
class _Binding:
    """How one scope's IAM member resource is declared: its class, the argument naming the
    resource, its Pulumi type (for the APIs it waits for), and which placement it takes."""

    resource: Callable[..., pulumi.CustomResource]
    target_arg: str
    type_: str
    in_project: bool = True
    regional: bool = False


#: Every resource-level scope a grant can target (datasets use ACL entries, see below).
_BINDINGS: dict[str, _Binding] = {
    "topic": _Binding(
        gcp.pubsub.TopicIAMMember, "topic", "gcp:pubsub/topicIAMMember:TopicIAMMember"
    ),
    "subscription": _Binding(
        gcp.pubsub.SubscriptionIAMMember,
        "subscription",
        "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember",
    ),
    "bucket": _Binding(
        gcp.storage.BucketIAMMember,
        "bucket",
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        in_project=False,
    ),
    "secret": _Binding(
        gcp.secretmanager.SecretIamMember,
        "secret_id",
        "gcp:secretmanager/secretIamMember:SecretIamMember",
    ),
    "run": _Binding(
        gcp.cloudrunv2.ServiceIamMember,
        "name",
        "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
        regional=True,
    ),
    "sa": _Binding(
        gcp.serviceaccount.IAMMember,
        "service_account_id",
        "gcp:serviceaccount/iAMMember:IAMMember",
        in_project=False,
    ),
    "repository": _Binding(
        gcp.artifactregistry.RepositoryIamMember,
        "repository",
        "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
        regional=True,
    ),
}


#: BigQuery's dataset roles in the form its dataset ACL stores them (the API accepts the
#: predefined names but answers with these, so Pulumi would show a diff on every run).
DATASET_ROLES = {
    "roles/bigquery.dataViewer": "READER",
    "roles/bigquery.dataEditor": "WRITER",
    "roles/bigquery.dataOwner": "OWNER",
}


def dataset_access(
    name: str,
    dataset_id: pulumi.Input[str],
    role: str,
    member: pulumi.Input[str],
    project: str,
    opts: pulumi.ResourceOptions,
) -> gcp.bigquery.DatasetAccess:
    """A dataset ACL entry: the only kind of dataset grant that keeps authorised views.

    Dataset IAM members rewrite the dataset's policy and drop its authorised views and
    datasets, and cannot be mixed with ``DatasetAccess`` on the same dataset (Pulumi's
    DatasetIamMember page, docs/infra.md), so every dataset grant is an ACL entry.
    ``member`` is ``serviceAccount:``/``user:`` (-> ``userByEmail``) or ``group:``
    (-> ``groupByEmail``); an Output member is a service account of this program.
    """
    if role not in DATASET_ROLES:
        raise ValueError(f"{name}: {role} is not a BigQuery dataset role {sorted(DATASET_ROLES)}")
    kind = member.split(":", 1)[0] if isinstance(member, str) else "serviceAccount"
    email = pulumi.Output.from_input(member).apply(lambda m: m.split(":", 1)[1])
    return gcp.bigquery.DatasetAccess(
        name,
        dataset_id=dataset_id,
        project=project,
        role=DATASET_ROLES[role],
        user_by_email=email if kind in {"serviceAccount", "user"} else None,
        group_by_email=email if kind == "group" else None,
        opts=opts,
    )


def sa_member(account: gcp.serviceaccount.Account) -> pulumi.Output[str]:
    """``serviceAccount:<email>`` for a service account the program creates."""
    return account.email.apply(lambda email: f"serviceAccount:{email}")
