"""Function source bundles: a service folder plus the domain library, named by content.

Each deployable carries its own copy of ``salesphere/`` (principle 1: one library, every
deployable bundles it). The bundle's object name is a hash of every file's path and
bytes, so editing code yields a new object name and Cloud Functions redeploys, while an
unchanged tree yields the same name and ``pulumi up`` is a no-op for that function.

The zip itself is written here too, byte for byte the same on every call
(:meth:`SourceBundle.zip_bytes`): the Pulumi program uploads that file and the local twin
unpacks that file, so what the tests run is what deploys. ``RUNTIME`` is read by both the
program (the function's runtime) and the twin (the interpreter of each bundle's venv).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

#: The Cloud Functions runtime every function deploys with; the twin installs each bundle
#: into a virtual environment of the same Python (``python312`` -> Python 3.12).
RUNTIME = "python312"

#: Never shipped: caches, compiled files, tests and local state.
EXCLUDED_PARTS = frozenset({"__pycache__", "tests", ".pytest_cache", ".ruff_cache", ".twin"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
#: Fixed metadata for every zip entry, so the same files always give the same bytes
#: (zip's earliest representable time; regular file, rw-r--r--, made on Unix).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_ZIP_MODE = 0o100644 << 16
_ZIP_LEVEL = 9


def runtime_version(runtime: str = RUNTIME) -> str:
    """``python312`` -> ``3.12``: the interpreter a runtime name stands for."""
    digits = runtime.removeprefix("python")
    if not digits.isdigit() or len(digits) < 2:
        raise ValueError(f"not a Cloud Functions Python runtime: {runtime!r}")
    return f"{digits[0]}.{digits[1:]}"


def build_dir(repo_root: Path) -> Path:
    """Where built bundles (and the twin's environments) are kept: outside git.

    ``SALESPHERE_BUNDLE_CACHE`` overrides the default ``<repo>/.cache/bundles``.
    """
    configured = os.environ.get("SALESPHERE_BUNDLE_CACHE")
    return Path(configured).resolve() if configured else repo_root / ".cache" / "bundles"


@dataclass(frozen=True)
class SourceBundle:
    """The files of one deployable: archive path inside the zip -> file on disk."""

    service: str
    files: tuple[tuple[str, Path], ...]
    digest: str

    @property
    def object_name(self) -> str:
        """GCS object name; changes exactly when any shipped byte changes."""
        return f"functions/{self.service}-{self.digest[:20]}.zip"

    @property
    def zip_name(self) -> str:
        return self.object_name.rsplit("/", 1)[1]

    def zip_bytes(self) -> bytes:
        """The archive, deterministic: sorted entries, fixed timestamps, modes, compression."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, path in self.files:
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.external_attr = _ZIP_MODE
                info.create_system = 3
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes(), compresslevel=_ZIP_LEVEL)
        return buffer.getvalue()

    def write_zip(self, directory: Path) -> Path:
        """Write the archive as ``directory/<service>-<digest>.zip`` (atomically) and return it.

        An existing file of that name is kept when its bytes are already right, so concurrent
        writers (two test sessions, a deploy beside a test run) never see a partial zip.
        """
        data = self.zip_bytes()
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / self.zip_name
        if target.is_file() and target.read_bytes() == data:
            return target
        handle, tmp = tempfile.mkstemp(prefix=f".{self.zip_name}.", dir=directory)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        Path(tmp).replace(target)
        return target


def _walk(root: Path, prefix: str) -> list[tuple[str, Path]]:
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or EXCLUDED_PARTS.intersection(rel.parts):
            continue
        if path.suffix in EXCLUDED_SUFFIXES:
            continue
        out.append((f"{prefix}{rel.as_posix()}", path))
    return out


def bundle(service: str, repo_root: Path, *, without: tuple[str, ...] = ()) -> SourceBundle:
    """Collect ``services/<service>/`` at the zip root and ``salesphere/`` beside it.

    ``without`` drops archive paths starting with any of its prefixes: tests build broken
    variants (``("salesphere/sql/",)``) to prove a missing file fails them.
    """
    service_dir = repo_root / "services" / service
    library_dir = repo_root / "salesphere"
    if not library_dir.is_dir():
        raise FileNotFoundError(f"{library_dir} not found: run the program from the repository")
    files = _walk(service_dir, "") if service_dir.is_dir() else []
    shipped = {name for name, _ in files}
    files += [
        (name, path) for name, path in _walk(library_dir, "salesphere/") if name not in shipped
    ]
    files = [(name, path) for name, path in files if not name.startswith(without)]
    digest = hashlib.sha256()
    for name, path in sorted(files):
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return SourceBundle(service=service, files=tuple(sorted(files)), digest=digest.hexdigest())
