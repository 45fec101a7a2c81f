"""Shared fixtures. The twin fixtures start REAL emulators on free loopback ports.

``twin`` is one twin for the whole session (emulators + every service whose code exists),
in a temporary directory, on ports nobody else uses, so the suite can run beside a
developer's own twin. Tests that need a pristine world use ``fresh_twin`` instead.

The twin's Cloud Functions run from their deployable bundles; ``function_bundles`` builds
those (once per requirements change, cached under ``.cache/bundles``) before any twin
starts, with a progress line on the terminal even while pytest captures output.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from salesphere.settings import LOCAL_ENV, LOCAL_PROJECT, Ports, Settings
from salesphere_tools import iam_record
from salesphere_tools.local import bundles, iamhook
from salesphere_tools.local.components import services
from salesphere_tools.local.prereqs import free_port
from salesphere_tools.local.twin import Twin

#: The reviewed record of every IAM permission the services use (see tests/infra).
IAM_RECORDED = Path(__file__).resolve().parents[1] / "infra" / "iam_recorded.json"
#: Set to 1 to add newly observed permissions to IAM_RECORDED instead of failing.
IAM_UPDATE = "SALESPHERE_IAM_RECORD_UPDATE"


def pytest_configure(config: pytest.Config) -> None:
    """Record every Google API call the services make in this session (salesphere_tools.local.iamhook).

    The file is private to the session; the twin's function processes append to it too.
    """
    if not os.environ.get(iamhook.ENV_FILE):
        folder = Path(tempfile.mkdtemp(prefix="salesphere-iam-"))
        os.environ[iamhook.ENV_FILE] = str(folder / "calls.jsonl")
    iamhook.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session when a service used a permission the reviewed record lacks.

    Keeps ``infra/iam_recorded.json`` (and so the IAM test built on it) from going
    stale: a new call in product code shows up here the first time a twin test runs it.
    """
    entries = iam_record.read_log(Path(os.environ[iamhook.ENV_FILE]))
    if not entries:
        return
    document = json.loads(IAM_RECORDED.read_text())
    new = iam_record.unrecorded(entries, document, LOCAL_PROJECT, LOCAL_ENV)
    if not new:
        return
    if os.environ.get(IAM_UPDATE) == "1":
        merged = iam_record.to_document(iam_record.summarize(entries, LOCAL_PROJECT, LOCAL_ENV))
        for service, ops in document.get("recorded", {}).items():
            have = {(o["permission"], o["resource"]) for o in merged.get(service, [])}
            merged.setdefault(service, []).extend(
                o for o in ops if (o["permission"], o["resource"]) not in have
            )
            merged[service].sort(key=lambda o: (o["resource"], o["permission"]))
        document["recorded"] = dict(sorted(merged.items()))
        IAM_RECORDED.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        print(f"\n{IAM_RECORDED} updated with {new}: review the diff")
        return
    lines = [f"  {service}: {perm} on {res}" for service, ops in new.items() for perm, res in ops]
    print(
        "\nIAM record is stale: the services used permissions "
        f"{IAM_RECORDED.relative_to(Path.cwd()) if IAM_RECORDED.is_relative_to(Path.cwd()) else IAM_RECORDED}"
        " does not list:\n" + "\n".join(lines) + f"\nRun the twin tests again with {IAM_UPDATE}=1, "
        "review the diff, grant the permissions in infra/ and commit both."
    )
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


#: Fixtures that start real emulators: a test using any of them is a ``twin`` test, so the
#: fast lane (``make test-fast``: ``-m "not twin and not slow"``) never starts one.
TWIN_FIXTURES = {"twin", "quiet_twin", "fresh_twin", "function_bundles"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if TWIN_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.twin)


def _free_ports() -> Ports:
    return Ports(**{name: free_port() for name in Ports.__dataclass_fields__})


def make_settings(twin_dir: Path) -> Settings:
    # Tests add reference rows between modules: the functions read it again after 2 s.
    return replace(Settings(), ports=_free_ports(), twin_dir=twin_dir, reference_ttl_seconds=2.0)


@pytest.fixture(scope="session")
def function_bundles(request: pytest.FixtureRequest) -> None:
    """Every function's bundle, unpacked and installed (a cold machine: a few minutes)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled(), bundles.rich_progress("function bundles") as say:
        Twin.prepare(services(Settings()), progress=say)


@pytest.fixture(scope="session")
def twin(tmp_path_factory: pytest.TempPathFactory, function_bundles: None) -> Iterator[Twin]:
    """A running twin (emulators and services) shared by the session."""
    settings = make_settings(tmp_path_factory.mktemp("twin"))
    saved = {k: os.environ.get(k) for k in settings.to_environ()}
    os.environ.update(settings.to_environ())
    twin = Twin(settings)
    # TWIN_SERVICES=ingest-http,speed limits the services started (emulators always start).
    only = os.environ.get("TWIN_SERVICES")
    try:
        twin.up(only=set(only.split(",")) if only else None)
        yield twin
    finally:
        twin.down()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def quiet_twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twin]:
    """Emulators only, no services, private to one module.

    For tests that reset and compare whole tables: in the shared ``twin`` the services keep
    delivering other tests' messages (push retries), which would leak in.
    """
    twin = Twin(make_settings(tmp_path_factory.mktemp("quiet-twin")))
    try:
        twin.up(with_services=False)
        yield twin
    finally:
        twin.down()


@pytest.fixture
def fresh_twin(tmp_path: Path, function_bundles: None) -> Iterator[Callable[..., Twin]]:
    """Factory for a private twin (own ports, own data) torn down after the test."""
    started: list[Twin] = []

    def start(**up_options: object) -> Twin:
        twin = Twin(make_settings(tmp_path / f"twin{len(started)}"))
        started.append(twin)
        twin.up(**up_options)  # type: ignore[arg-type]
        return twin

    yield start
    for twin in started:
        twin.down()
