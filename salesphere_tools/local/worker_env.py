"""The worker package as Dataflow gets it: a wheel of ``salesphere``, installed in a clean venv.

Dataflow workers unpickle DoFns by reference to their module, so a job whose workers lack
the library fails with ``ModuleNotFoundError`` only in cloud. This module builds the exact
wheel the flex-template images install (``services/worker/pyproject.toml`` + ``salesphere/``)
and installs it into a virtual environment on the Python version the images use, with
nothing from the repository on ``sys.path``: running the pipelines from that venv is the
nearest offline proof that the wheel is complete (package data, dependencies).

    python -m salesphere_tools.local.worker_env wheel --out dist/   # what CI bakes into images
    python -m salesphere_tools.local.worker_env venv                # print the venv's python

The venv's third-party packages take about a minute to install, so venvs are cached by the
wheel's requirement set (and the interpreter); the wheel itself is reinstalled on every call
(a second), so a code change is always what runs. Builds of one cache entry are serialised
with a file lock and published by an atomic rename, so concurrent test runs share it safely.
"""

from __future__ import annotations

import argparse
import email
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "services" / "worker" / "pyproject.toml"
#: The images' Python (flex-template launcher base ``python312``); pyenv has it here.
PYTHON = Path(os.environ.get("SALESPHERE_WORKER_PYTHON", "/root/.pyenv/versions/3.12.1/bin/python"))
CACHE = Path(
    os.environ.get("SALESPHERE_WORKER_ENV_DIR", Path.home() / ".cache" / "salesphere" / "worker")
)


@dataclass(frozen=True)
class WorkerEnv:
    """A clean venv with the worker wheel installed, and what it cost."""

    root: Path
    wheel: Path
    cached: bool
    install_seconds: float

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """An environment for the venv's python: no PYTHONPATH, so only the wheel is importable."""
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
        env["PATH"] = f"{self.root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONNOUSERSITE"] = "1"
        return env | (extra or {})


def build_wheel(out: Path) -> Path:
    """Build ``salesphere_worker-*.whl`` into ``out`` from a scratch copy; return its path."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="salesphere-worker-src-") as scratch:
        src = Path(scratch)
        shutil.copy2(PROJECT, src / "pyproject.toml")
        shutil.copytree(
            REPO / "salesphere",
            src / "salesphere",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        before = set(out.glob("salesphere_worker-*.whl"))
        for old in before:
            old.unlink()
        _run([str(_python()), "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)])
    wheels = sorted(out.glob("salesphere_worker-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one worker wheel in {out}, found {wheels}")
    return wheels[0]


def requirements(wheel: Path) -> list[str]:
    """The wheel's ``Requires-Dist`` lines, as pip would install them."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(archive.read(name))
    return sorted(metadata.get_all("Requires-Dist") or [])


def wheel_contents(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def ensure_env(wheel: Path, cache: Path = CACHE) -> WorkerEnv:
    """A venv with ``wheel``'s requirements (cached by their hash) and ``wheel`` itself."""
    reqs = requirements(wheel)
    python = _python()
    version = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    key = hashlib.sha256("\n".join([version, *reqs]).encode()).hexdigest()[:16]
    root = cache / f"env-{key}"
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    cached = True
    with _locked(cache / f"env-{key}.lock"):
        if not (root / ".complete").exists():
            cached = False
            shutil.rmtree(root, ignore_errors=True)
            building = Path(tempfile.mkdtemp(prefix=f"env-{key}-", dir=cache))
            try:
                _run([str(python), "-m", "venv", str(building)])
                req_file = building / "worker-requirements.txt"
                req_file.write_text("\n".join(reqs) + "\n")
                _run(
                    [
                        str(building / "bin/python"),
                        "-m",
                        "pip",
                        "install",
                        "-q",
                        "-r",
                        str(req_file),
                    ]
                )
                (building / ".complete").write_text("\n".join(reqs) + "\n")
                # venv scripts hold absolute paths: build at the final name's sibling, then
                # rename; `python -m ...` (all we use) does not depend on those scripts.
                building.rename(root)
            except BaseException:
                shutil.rmtree(building, ignore_errors=True)
                raise
        _run(
            [
                str(root / "bin/python"),
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--force-reinstall",
                str(wheel),
            ]
        )
    return WorkerEnv(root, wheel, cached, time.monotonic() - t0)


def _python() -> Path:
    if not PYTHON.exists():
        raise RuntimeError(
            f"{PYTHON} is missing: install Python 3.12 (e.g. `pyenv install 3.12.1`) or point "
            "SALESPHERE_WORKER_PYTHON at a Python 3.12 interpreter"
        )
    return PYTHON


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(argv: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(argv)}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True)
    wheel = sub.add_parser("wheel", help="build the worker wheel", allow_abbrev=False)
    wheel.add_argument("--out", type=Path, default=REPO / "dist")
    sub.add_parser("venv", help="build (or reuse) the clean venv; print its python")
    args = parser.parse_args(argv)
    if args.command == "wheel":
        print(build_wheel(args.out))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            env = ensure_env(build_wheel(Path(tmp)))
        print(env.python)


if __name__ == "__main__":
    main(sys.argv[1:])
