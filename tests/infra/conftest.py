"""Run the real Pulumi program once per stack (under mocks) and share the graphs.

Each run takes ~0.2 s after the first import, so the four stacks the issue names are
computed once per session; tests that need a variant run the program again with overrides.
"""

from __future__ import annotations

import pytest

from infra.guardrails import Resource
from infra.mocking import ProgramRun, run_program

STACKS = ("dev", "staging", "prod", "pr-7")


@pytest.fixture(scope="session")
def runs() -> dict[str, ProgramRun]:
    return {stack: run_program(stack) for stack in STACKS}


def policy_view(run: ProgramRun) -> list[Resource]:
    """The recorded graph as the guardrails (and CrossGuard) see it."""
    return [Resource(r.urn, r.type, r.name, r.inputs) for r in run.resources]
