"""Run each Cloud Function from the archive that deploys, as Google Cloud would run it.

The twin does not serve functions from the repository tree: a tree always has every
package of the main environment and every file of the checkout, so a bundle that lacks a
dependency or a data file would pass here and fail in cloud. Instead, for each function:

1. the Pulumi program's own builder (``infra.sources.bundle``) writes the zip, the very
   bytes ``pulumi up`` uploads;
2. the zip is unpacked into its own folder, named by the zip's SHA-256;
3. the archive's ``requirements.txt`` is installed with pip into a virtual environment
   of the deployed runtime's Python (``infra.sources.RUNTIME``), named by a hash of that
   file and the interpreter;
4. functions-framework *from that environment* serves the function with the unpacked
   folder as working directory and no ``PYTHONPATH``.

Everything lives under ``infra.sources.build_dir`` (``.cache/bundles/``, outside git).
Unpacked folders appear by atomic rename; environments are built under an exclusive file
lock and marked complete last, so two test sessions building at once neither corrupt nor
duplicate them. An environment is built once per requirements change (about 30 s for
ingest or stream, a minute for batch) and reused after that.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra import sources
from salesphere_tools.local import prereqs

if TYPE_CHECKING:
    from infra.sources import SourceBundle

REPO = prereqs.REPO_ROOT
Progress = Callable[[str], None]

#: Variables a function process inherits from the caller; everything else it gets is set
#: explicitly (settings, the interpreter's own needs), as in a fresh Cloud Run container.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
_MARKER = "bundle-env.json"
_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")
_MISSING_FILE = re.compile(r"(FileNotFoundError: .*)")


class BundleError(RuntimeError):
    """A bundle could not be built, installed or started; the message says what to fix."""


@cache
def function_python() -> Path:
    """The interpreter of the deployed runtime (``python312`` -> a Python 3.12).

    ``SALESPHERE_FUNCTION_PYTHON`` names one explicitly; otherwise PATH, pyenv and the
    usual system locations are searched.
    """
    version = sources.runtime_version()
    explicit = os.environ.get("SALESPHERE_FUNCTION_PYTHON")
    candidates = [Path(explicit)] if explicit else []
    on_path = shutil.which(f"python{version}")
    candidates += [Path(on_path)] if on_path else []
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(pyenv.glob(f"{version}*/bin/python{version}"), reverse=True)
    candidates += [Path(f"/usr/bin/python{version}"), Path(f"/usr/local/bin/python{version}")]
    for path in candidates:
        if not path.is_file():
            continue
        probe = subprocess.run(
            [str(path), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return path.resolve()
        if explicit:
            break
    raise prereqs.PrerequisiteError(
        f"Python {version} was not found; the twin runs every Cloud Function on the Python "
        f"it is deployed with ({sources.RUNTIME}). Install it (e.g. `pyenv install "
        f"{version}`) or point SALESPHERE_FUNCTION_PYTHON at a python{version}, then retry."
    )


@dataclass(frozen=True)
class FunctionEnv:
    """Where one bundle runs: its zip, its unpacked folder and its virtual environment."""

    service: str
    zip_path: Path
    zip_sha256: str
    source_dir: Path
    venv: Path
    requirements: bytes
    interpreter: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def functions_framework(self) -> Path:
        return self.venv / "bin" / "functions-framework"

    @property
    def installed(self) -> bool:
        return (self.venv / _MARKER).is_file() and self.source_dir.is_dir()

    def facts(self) -> dict[str, Any]:
        """What the environment's build recorded (seconds, size, Python), once installed."""
        marker = self.venv / _MARKER
        return json.loads(marker.read_text()) if marker.is_file() else {}

    def argv(self, target: str, signature: str, host: str, port: int) -> list[str]:
        """functions-framework as the Python runtime starts it: ``main.py`` in the cwd."""
        return [
            str(self.functions_framework),
            "--source=main.py",
            f"--target={target}",
            f"--signature-type={signature}",
            f"--host={host}",
            f"--port={port}",
        ]

    def environ(self, extra: dict[str, str]) -> dict[str, str]:
        """A clean environment: no PYTHONPATH, no caller's venv, only what is listed."""
        env = {key: os.environ[key] for key in INHERITED_ENV if key in os.environ}
        return {**env, "PYTHONNOUSERSITE": "1", "PYTHONUNBUFFERED": "1", **extra}

    def explain(self, log_text: str) -> str | None:
        """The fix for a start-up failure read from the function's log, if recognised."""
        missing = _MISSING_MODULE.findall(log_text)
        if missing:
            module = missing[-1]
            return (
                f"the {self.service} bundle cannot import {module!r}: No module named "
                f"{module!r}. Add the distribution that provides it to "
                f"services/{self.service}/requirements.txt, pinned as in requirements.lock "
                f"(environment: {self.venv})."
            )
        files = _MISSING_FILE.findall(log_text)
        if files:
            return (
                f"the {self.service} bundle lacks a file it reads: {files[-1]}. Data the "
                "runtime reads must ship inside salesphere/ as package data."
            )
        return None


def cache_dir() -> Path:
    return sources.build_dir(REPO)


def plan(source: SourceBundle, cache: Path | None = None) -> FunctionEnv:
    """The paths of a bundle's environment (cheap: nothing is built or installed)."""
    root = cache or cache_dir()
    data = source.zip_bytes()
    zip_sha = hashlib.sha256(data).hexdigest()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        try:
            requirements = archive.read("requirements.txt")
        except KeyError:
            raise BundleError(
                f"the {source.service} bundle has no requirements.txt at its root; Cloud "
                f"Functions installs dependencies from it: add services/{source.service}/"
                "requirements.txt"
            ) from None
    interpreter = function_python()
    key = hashlib.sha256(
        b"\0".join(
            [
                requirements,
                str(interpreter).encode(),
                sources.RUNTIME.encode(),
                platform.machine().encode(),
            ]
        )
    ).hexdigest()
    return FunctionEnv(
        service=source.service,
        zip_path=root / "zips" / source.zip_name,
        zip_sha256=zip_sha,
        source_dir=root / "src" / f"{source.service}-{zip_sha[:16]}",
        venv=root / "venvs" / f"py{sources.runtime_version()}-{key[:16]}",
        requirements=requirements,
        interpreter=interpreter,
    )


def prepare(
    source: SourceBundle, *, cache: Path | None = None, progress: Progress | None = None
) -> FunctionEnv:
    """Write the zip, unpack it and install its requirements (each step only if missing)."""
    say = progress or (lambda _msg: None)
    env = plan(source, cache)
    written = source.write_zip(env.zip_path.parent)
    if hashlib.sha256(written.read_bytes()).hexdigest() != env.zip_sha256:
        raise BundleError(f"{written} changed while it was written; run again")
    _unpack(env)
    _install(env, say)
    return env


def _unpack(env: FunctionEnv) -> None:
    """Extract the zip into a temporary folder, then rename it into place (atomic)."""
    if env.source_dir.is_dir():
        return
    env.source_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{env.service}-", dir=env.source_dir.parent))
    try:
        with zipfile.ZipFile(env.zip_path) as archive:
            archive.extractall(tmp)
        try:
            tmp.rename(env.source_dir)
        except OSError:
            if not env.source_dir.is_dir():  # not a lost race with another builder
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _install(env: FunctionEnv, say: Progress) -> None:
    """Build the venv from the archive's requirements.txt, under a lock; marker last.

    The venv is built at its final path (venvs are not relocatable), so the lock, not a
    rename, keeps a second builder out; a folder without the marker is a crashed build
    and is rebuilt.
    """
    if env.installed:
        return
    with _locked(env.venv.with_name(env.venv.name + ".lock")):
        if env.installed:  # another session finished it while we waited
            return
        shutil.rmtree(env.venv, ignore_errors=True)
        started = time.monotonic()
        say(
            f"{env.service} bundle: installing {len(_requirement_lines(env.requirements))} "
            f"requirements with Python {sources.runtime_version()} into {env.venv.name} "
            "(first time only)"
        )
        _build_venv(env, say, started)
        facts = _mark_installed(env, started)
        say(
            f"{env.service} bundle: installed in {facts['install_seconds']:.0f} s "
            f"({facts['size_mb']:.0f} MB)"
        )


def _requirement_lines(requirements: bytes) -> list[str]:
    """The requirements of a requirements.txt: its lines without comments and blanks."""
    return [
        line.split("#", 1)[0].strip()
        for line in requirements.decode().splitlines()
        if line.split("#", 1)[0].strip()
    ]


def _build_venv(env: FunctionEnv, say: Progress, started: float) -> None:
    """Create the venv, pip install the bundle's requirements into it, then ``pip check``."""
    log_path = env.venv.with_name(env.venv.name + ".log")
    with log_path.open("a") as log:  # appended: every build of this env stays on record
        _run([str(env.interpreter), "-m", "venv", str(env.venv)], log, env, say)
        _run(
            [
                str(env.python),
                "-m",
                "pip",
                "install",
                "--no-input",
                "--disable-pip-version-check",
                # Bytecode is written on first import instead (the venv is writable):
                # compiling all of apache-beam up front doubled a cold install.
                "--no-compile",
                "-r",
                str(env.source_dir / "requirements.txt"),
            ],
            log,
            env,
            say,
            started,
        )
        _run([str(env.python), "-m", "pip", "check"], log, env, say)


def _mark_installed(env: FunctionEnv, started: float) -> dict[str, Any]:
    """Write the marker that says the venv is complete, with what was built and how fast."""
    seconds = round(time.monotonic() - started, 1)
    facts = {
        "service": env.service,
        "python": subprocess.run(
            [str(env.python), "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip(),
        "install_seconds": seconds,
        "size_mb": round(_size(env.venv) / 1e6, 1),
        "requirements_sha256": hashlib.sha256(env.requirements).hexdigest(),
    }
    (env.venv / _MARKER).write_text(json.dumps(facts, indent=2))
    return facts


def _run(
    argv: list[str], log: Any, env: FunctionEnv, say: Progress, started: float | None = None
) -> None:
    """Run one build step, its output to the log; progress shows pip's current package."""
    log.write(f"$ {' '.join(argv)}\n")
    log.flush()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**_build_environ(), "PIP_PROGRESS_BAR": "off"},
        cwd=env.source_dir,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        log.write(line)
        if started is not None and line.startswith(("Collecting ", "Installing collected")):
            what = line.split(" (", 1)[0].strip()
            say(f"{env.service} bundle: {what} ({time.monotonic() - started:.0f} s)")
    if proc.wait() != 0:
        log.flush()
        tail = "\n".join(Path(log.name).read_text(errors="replace").splitlines()[-12:])
        raise BundleError(
            f"building the {env.service} bundle's environment failed at `{' '.join(argv[-3:])}`."
            f" Check services/{env.service}/requirements.txt against requirements.lock; the "
            f"full log is {log.name}.\n{tail}"
        )


def _build_environ() -> dict[str, str]:
    """The caller's environment (pip's index and proxy settings) less its Python paths."""
    dropped = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"}
    return {key: value for key, value in os.environ.items() if key not in dropped}


def _size(root: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(folder) / name).lstat().st_size
    return total


@contextlib.contextmanager
def rich_progress(title: str = "preparing function bundles") -> Iterator[Progress]:
    """A rich status line on stderr for callers that have no display of their own."""
    from rich.console import Console

    console = Console(stderr=True)
    with console.status(title) as status:

        def say(message: str) -> None:
            status.update(message)
            if "installed in" in message or "installing" in message:
                console.log(message)

        yield say


def smoke_start(
    env: FunctionEnv,
    entry_point: str,
    signature: str,
    *,
    settings_env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> float:
    """Start one function from its bundle on a free loopback port, wait until it answers
    ``/healthz``, stop it; return the seconds it took to become ready.

    functions-framework imports ``main.py`` before it listens, so a missing dependency or a
    module-level failure ends the process here. Raises :class:`BundleError` with the fix.
    """
    import requests

    from salesphere_tools.local import processes

    port = prereqs.free_port()
    with tempfile.TemporaryDirectory(prefix="smoke-") as logs:
        record = processes.spawn(
            f"{env.service}-{entry_point}",
            env.argv(entry_point, signature, "127.0.0.1", port),
            log_dir=Path(logs),
            env=env.environ(settings_env or {}),
            cwd=env.source_dir,
            inherit_env=False,
        )
        try:
            return processes.wait_until(
                lambda: (
                    requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code < 500
                ),
                timeout=timeout,
                what=f"{entry_point} from the {env.service} bundle",
                record=record,
            )
        except (RuntimeError, TimeoutError) as exc:
            fix = env.explain(processes.read_log(record.log))
            raise BundleError(
                f"{entry_point} did not start from its bundle: {fix or 'see its log below'}\n{exc}"
            ) from exc
        finally:
            processes.stop(record)
