"""Role grants on one specific resource each: the only way the program hands out access.

Every grant goes through :func:`grant`, which picks the resource-level IAM member type
(topic, subscription, bucket, dataset, secret, Cloud Run service, service account). A
project-level grant is possible only for the few roles that have no narrower scope
(:data:`PROJECT_LEVEL_ROLES`); anything else is a programming error caught here, and the
guardrails catch primitive roles and public members again on the recorded graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_gcp as gcp

#: Roles that exist only at project level (running BigQuery jobs, being a Dataflow worker).
PROJECT_LEVEL_ROLES = frozenset(
    {"roles/bigquery.jobUser", "roles/dataflow.worker", "roles/dataflow.developer"}
)

Scope = Literal["topic", "subscription", "bucket", "dataset", "secret", "run", "sa", "project"]


@dataclass(frozen=True)
class Grants:
    """Hands out roles inside one component: knows the project, region and parent."""

    project: str
    region: str
    parent: pulumi.Resource

    def grant(
        self,
        name: str,
        scope: Scope,
        target: pulumi.Input[str],
        role: str,
        member: pulumi.Input[str],
        depends_on: list[pulumi.Resource] | None = None,
    ) -> pulumi.CustomResource:
        """Grant ``role`` to ``member`` on one resource; ``target`` is its id or name."""
        opts = pulumi.ResourceOptions(parent=self.parent, depends_on=depends_on or [])
        project = self.project
        if scope == "topic":
            return gcp.pubsub.TopicIAMMember(
                name, topic=target, role=role, member=member, project=project, opts=opts
            )
        if scope == "subscription":
            return gcp.pubsub.SubscriptionIAMMember(
                name, subscription=target, role=role, member=member, project=project, opts=opts
            )
        if scope == "bucket":
            return gcp.storage.BucketIAMMember(
                name, bucket=target, role=role, member=member, opts=opts
            )
        if scope == "dataset":
            return gcp.bigquery.DatasetIamMember(
                name, dataset_id=target, role=role, member=member, project=project, opts=opts
            )
        if scope == "secret":
            return gcp.secretmanager.SecretIamMember(
                name, secret_id=target, role=role, member=member, project=project, opts=opts
            )
        if scope == "run":
            return gcp.cloudrunv2.ServiceIamMember(
                name,
                name=target,
                location=self.region,
                role=role,
                member=member,
                project=project,
                opts=opts,
            )
        if scope == "sa":
            return gcp.serviceaccount.IAMMember(
                name, service_account_id=target, role=role, member=member, opts=opts
            )
        if role not in PROJECT_LEVEL_ROLES:
            raise ValueError(
                f"{name}: {role} must be granted on a specific resource, not the project; "
                f"project-level grants are limited to {sorted(PROJECT_LEVEL_ROLES)}"
            )
        return gcp.projects.IAMMember(name, project=project, role=role, member=member, opts=opts)


def sa_member(account: gcp.serviceaccount.Account) -> pulumi.Output[str]:
    """``serviceAccount:<email>`` for a service account the program creates."""
    return account.email.apply(lambda email: f"serviceAccount:{email}")
