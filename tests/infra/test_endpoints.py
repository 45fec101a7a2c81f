"""Push endpoints, token audiences and the scheduler target come from one definition."""

from __future__ import annotations

from infra.mocking import MOCK_PROJECT_NUMBER, ProgramRun
from salesphere import endpoints, names


def _uri(run: ProgramRun, function: str) -> str:
    return run.by_name(f"fn-{function}").outputs["serviceConfig"]["uri"]


def test_pushes_and_the_schedule_call_the_default_run_app_url(
    runs: dict[str, ProgramRun],
) -> None:
    run = runs["prod"]
    for sub, function in (
        (names.SUB_EVENTS_SPEED, "speed"),
        (names.SUB_FILE_DROPS_INGEST, "ingest-files"),
    ):
        push = run.by_name(f"sub-{sub}").inputs["pushConfig"]
        assert push["pushEndpoint"] == push["oidcToken"]["audience"] == _uri(run, function)
        assert ".run.app" in push["pushEndpoint"]
    target = run.by_name("scheduler-batch").inputs["httpTarget"]
    assert target["uri"] == target["oidcToken"]["audience"] == _uri(run, "batch")


def test_ingest_http_accepts_exactly_its_two_urls(runs: dict[str, ProgramRun]) -> None:
    for stack, run in runs.items():
        project = run.by_name("dataset-master").inputs["project"]
        env = run.by_name("fn-ingest-http").inputs["serviceConfig"]["environmentVariables"]
        accepted = tuple(env["SALESPHERE_INGEST_OIDC_AUDIENCES"].split(","))
        assert accepted == (
            f"https://ingest-http-{MOCK_PROJECT_NUMBER}.us-central1.run.app",
            f"https://us-central1-{project}.cloudfunctions.net/ingest-http",
        ), stack
        assert accepted == endpoints.audiences(
            "ingest-http", project, MOCK_PROJECT_NUMBER, "us-central1"
        )
