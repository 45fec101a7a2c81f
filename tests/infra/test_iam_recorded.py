"""IAM is sufficient and least, measured against what the services actually do.

``iam_recorded.json`` lists every permission each service used in the twin and fault
suites (recorded at the client transports, ``salesphere_tools/local/iamhook.py``; a
session that sees one not listed fails, ``tests/conftest.py``) plus the few the platform
uses on a service's behalf. Here the real Pulumi program runs under mocks for each kind
of stack, every binding is expanded through ``infra/roles.py``, and:

* **sufficient**: each permission is granted to the service's own account on the
  resource it is checked on, or on a parent (table -> dataset -> project);
* **least**: each binding to a service account is needed by some recorded permission,
  and no narrower role from the table would cover what it is needed for.
"""

from __future__ import annotations

import pytest

from infra import roles
from infra.mocking import ProgramRun, run_program
from salesphere_tools.iam_check import (
    DOCUMENT,
    SERVICE_ACCOUNTS,
    STACK_KINDS,
    bindings,
    missing_grants,
    needs,
    resolve,
    services_of,
    unused_grants,
)


@pytest.fixture(scope="module")
def stacks() -> dict[str, ProgramRun]:
    return {kind: run_program(stack, overrides) for kind, (stack, overrides) in STACK_KINDS.items()}


@pytest.mark.parametrize("kind", STACK_KINDS)
def test_every_recorded_permission_is_granted_to_the_services_own_account(
    stacks: dict[str, ProgramRun], kind: str
) -> None:
    missing = missing_grants(stacks[kind])
    assert missing == [], "granted nowhere (add a grant in infra/):\n" + "\n".join(missing)


@pytest.mark.parametrize("kind", STACK_KINDS)
def test_no_service_account_holds_a_binding_it_never_uses(
    stacks: dict[str, ProgramRun], kind: str
) -> None:
    problems = unused_grants(stacks[kind])
    assert problems == [], "\n".join(problems)


def test_every_granted_role_is_in_the_cited_table(stacks: dict[str, ProgramRun]) -> None:
    for run in stacks.values():
        for binding_list in bindings(run).values():
            for binding in binding_list:
                assert roles.permissions(binding.role)  # raises for an unlisted role


def test_the_record_covers_every_service_and_names_known_resources(
    stacks: dict[str, ProgramRun],
) -> None:
    recorded = DOCUMENT["recorded"]
    assert {"ingest-http", "ingest-files", "speed", "batch"} <= set(recorded)
    for section in ("recorded", "platform"):
        for service, ops in DOCUMENT[section].items():
            assert service in SERVICE_ACCOUNTS, service
            for op in ops:
                resolve(op["resource"], stacks["dev"])  # raises for an unknown kind
                assert "." in op["permission"], op


def test_least_check_refuses_an_unused_and_an_oversized_grant(
    stacks: dict[str, ProgramRun],
) -> None:
    """The least test can fail: an admin role where a viewer would do is caught."""
    run = stacks["dev"]
    wanted = needs(DOCUMENT, services_of(run))
    archive = ("bucket", run.by_name("bucket-archive").inputs["name"])
    used = {
        p
        for p, logical in wanted["batch-fn"]
        if archive in resolve(logical, run) and p in roles.permissions("roles/storage.objectAdmin")
    }
    # read, list and create (the run drains the archive subscription into new objects)
    granted = roles.permissions("roles/storage.objectViewer") | roles.permissions(
        "roles/storage.objectCreator"
    )
    assert used and used <= granted
    assert granted < roles.permissions("roles/storage.objectAdmin")
