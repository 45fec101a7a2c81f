"""Function source bundles: a service folder plus the domain library, named by content.

Each deployable carries its own copy of ``salesphere/`` (principle 1: one library, every
deployable bundles it). The bundle's object name is a hash of every file's path and
bytes, so editing code yields a new object name and Cloud Functions redeploys, while an
unchanged tree yields the same name and ``pulumi up`` is a no-op for that function.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

#: Never shipped: caches, compiled files, tests and local state.
EXCLUDED_PARTS = frozenset({"__pycache__", "tests", ".pytest_cache", ".ruff_cache", ".twin"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


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


def bundle(service: str, repo_root: Path) -> SourceBundle:
    """Collect ``services/<service>/`` at the zip root and ``salesphere/`` beside it."""
    service_dir = repo_root / "services" / service
    library_dir = repo_root / "salesphere"
    if not library_dir.is_dir():
        raise FileNotFoundError(f"{library_dir} not found: run the program from the repository")
    files = _walk(service_dir, "") if service_dir.is_dir() else []
    shipped = {name for name, _ in files}
    files += [
        (name, path) for name, path in _walk(library_dir, "salesphere/") if name not in shipped
    ]
    digest = hashlib.sha256()
    for name, path in sorted(files):
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return SourceBundle(service=service, files=tuple(sorted(files)), digest=digest.hexdigest())
