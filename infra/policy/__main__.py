"""CrossGuard pack wrapping ``infra.guardrails``: ``pulumi preview --policy-pack infra/policy``.

The checks are stack-level (the scheduler limit needs every job at once), so each
guardrail becomes one ``StackValidationPolicy`` fed the whole resource list. The policy
logic itself lives in ``infra/guardrails.py`` and is unit-tested without the CLI.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # repo root: `import infra`

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    StackValidationPolicy,
)

from infra.guardrails import MANDATORY, POLICIES, Policy, Resource


def _validator(policy: Policy):  # type: ignore[no-untyped-def]
    def validate(args, report_violation) -> None:  # type: ignore[no-untyped-def]
        resources = [
            Resource(urn=r.urn, type=r.resource_type, name=r.name, props=r.props)
            for r in args.resources
        ]
        for violation in policy.check(resources):
            report_violation(violation.message, violation.urn)

    return validate


PolicyPack(
    name="salesphere-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        StackValidationPolicy(
            name=policy.name,
            description=policy.description,
            enforcement_level=(
                EnforcementLevel.MANDATORY
                if policy.enforcement == MANDATORY
                else EnforcementLevel.ADVISORY
            ),
            validate=_validator(policy),
        )
        for policy in POLICIES
    ],
)
