"""Each bundle's requirements.txt names exactly the distributions its code imports.

Cloud Functions installs a bundle's ``requirements.txt`` and nothing else, so a package
imported by code reachable from ``main.py`` but missing there fails only in cloud (this is
how ingest shipped without ``orjson``). The walk is static and conservative: it follows
``salesphere`` imports from ``main.py`` through every module they reach, counts imports
inside functions too (a lazy import still runs one day), and skips only
``if TYPE_CHECKING:`` blocks. Pins must be those of ``requirements.lock``.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import sys
from pathlib import Path

import pytest

from tests import REPO_ROOT

REPO = REPO_ROOT
SERVICES = ("ingest", "stream", "batch")

#: Import name (module prefix) -> the distribution that provides it. Longest prefix wins.
DISTRIBUTIONS = {
    "apache_beam": "apache-beam",
    "cloudevents": "cloudevents",
    "duckdb": "duckdb",
    "functions_framework": "functions-framework",
    "google.api_core": "google-api-core",
    "google.auth": "google-auth",
    "google.oauth2": "google-auth",
    "google.cloud.bigquery": "google-cloud-bigquery",
    "google.cloud.dataflow_v1beta3": "google-cloud-dataflow-client",
    "google.cloud.pubsub": "google-cloud-pubsub",
    "google.cloud.pubsub_v1": "google-cloud-pubsub",
    "google.pubsub_v1": "google-cloud-pubsub",
    "grpc": "grpcio",
    "google.cloud.storage": "google-cloud-storage",
    "holidays": "holidays",
    "lxml": "lxml",
    "nfelib": "nfelib",
    "numpy": "numpy",
    "orjson": "orjson",
    "pyarrow": "pyarrow",
    "pydantic": "pydantic",
    "python_calamine": "python-calamine",
    "requests": "requests",
    "sqlglot": "sqlglot",
    "statsforecast": "statsforecast",
    "threadpoolctl": "threadpoolctl",
    "yaml": "PyYAML",
}

#: Modules that import a distribution their own one does not require (an "extra").
ALSO_NEEDS = {"google.auth.transport.requests": ("requests",)}


def normalize(name: str) -> str:
    """PEP 503 name: case- and separator-insensitive."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirements(text: str) -> dict[str, tuple[str, str]]:
    """``name[extras]==version`` lines -> {normalized name: (extras, version)}."""
    out = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*==\s*([^\s;]+)", line)
        assert match, f"not an exact pin: {line!r} (pin every requirement with ==)"
        out[normalize(match[1])] = (match[2] or "", match[3])
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, package: str) -> list[str]:
    """Dotted names imported anywhere in ``tree`` (``from a import b`` gives ``a.b``)."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*parts, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.append(module)
            found.extend(f"{module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _module_file(root: Path, dotted: str) -> Path | None:
    path = root.joinpath(*dotted.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def third_party_imports(service_dir: Path, library_root: Path) -> dict[str, set[str]]:
    """Import name -> files importing it, for everything reachable from ``main.py``."""
    local = {p.stem for p in service_dir.glob("*.py")}
    todo = [(service_dir / "main.py", "main")]
    seen: set[Path] = set()
    out: dict[str, set[str]] = {}
    while todo:
        path, dotted = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        package = dotted if path.name == "__init__.py" else dotted.rpartition(".")[0]
        for name in _imports(ast.parse(path.read_text()), package):
            top = name.split(".")[0]
            if top == "salesphere" or (top in local and path.parent == service_dir):
                root = library_root if top == "salesphere" else service_dir
                parts = name.split(".")
                for i in range(1, len(parts) + 1):
                    prefix = ".".join(parts[:i])
                    found = _module_file(root, prefix)
                    if found:
                        todo.append((found, prefix))
            elif top not in sys.stdlib_module_names and top and top != "__future__":
                out.setdefault(name, set()).add(str(path.relative_to(path.parents[2])))
    return out


def distribution_of(name: str) -> str | None:
    """The distribution for an import name by longest matching prefix (None: unknown)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in DISTRIBUTIONS:
            return DISTRIBUTIONS[".".join(parts[:i])]
    return None


def needed(service_dir: Path, library_root: Path) -> tuple[dict[str, set[str]], set[str]]:
    """{distribution: importing files}, and import names no mapping entry covers."""
    dists: dict[str, set[str]] = {}
    unknown: set[str] = set()
    by_module = third_party_imports(service_dir, library_root)
    for name, files in by_module.items():
        dist = distribution_of(name)
        if dist is not None:
            dists.setdefault(normalize(dist), set()).update(files)
            for extra in ALSO_NEEDS.get(name, ()):
                dists.setdefault(normalize(extra), set()).update(files)
        elif not any(other.startswith(name + ".") for other in by_module):
            unknown.add(name)  # "google.cloud" alone is a namespace, covered by its members
    return dists, unknown


LOCK = parse_requirements((REPO / "requirements.lock").read_text())


@pytest.mark.parametrize("service", SERVICES)
def test_every_import_reachable_from_main_is_a_requirement(service: str) -> None:
    dists, unknown = needed(REPO / "services" / service, REPO)
    assert not unknown, (
        f"imports with no distribution in DISTRIBUTIONS: {sorted(unknown)}; add them to the "
        "mapping (and to the requirements)"
    )
    declared = parse_requirements((REPO / "services" / service / "requirements.txt").read_text())
    missing = {d: sorted(files) for d, files in dists.items() if d not in declared}
    assert not missing, f"services/{service}/requirements.txt lacks {missing}"
    unused = set(declared) - set(dists)
    assert not unused, f"services/{service}/requirements.txt lists {unused}, which nothing imports"


@pytest.mark.parametrize("service", SERVICES)
def test_pins_match_the_lock(service: str) -> None:
    declared = parse_requirements((REPO / "services" / service / "requirements.txt").read_text())
    for name, (_extras, version) in declared.items():
        assert name in LOCK, f"{name} (services/{service}) is not in requirements.lock"
        assert LOCK[name][1] == version, (
            f"services/{service} pins {name}=={version}, requirements.lock has {LOCK[name][1]}"
        )


def test_batch_installs_plain_beam_and_reaches_none_of_its_gcp_io() -> None:
    """apache-beam[gcp] adds ~300 MB; the function's code path never needs the extra."""
    declared = parse_requirements((REPO / "services/batch/requirements.txt").read_text())
    assert declared["apache-beam"][0] == ""
    reached = third_party_imports(REPO / "services/batch", REPO)
    assert not [name for name in reached if name.startswith("apache_beam.io.gcp")]


def test_the_walk_catches_a_missing_requirement(tmp_path: Path) -> None:
    """The check itself can fail: a lazy import in a library module reached from main."""
    service = tmp_path / "services" / "svc"
    service.mkdir(parents=True)
    (service / "main.py").write_text("import functions_framework\nfrom salesphere import a\n")
    (tmp_path / "salesphere").mkdir()
    (tmp_path / "salesphere" / "__init__.py").write_text("")
    (tmp_path / "salesphere" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import duckdb\n"
        "def f():\n    import orjson\n    from google.cloud import storage\n"
    )
    dists, unknown = needed(service, tmp_path)
    assert set(dists) == {"functions-framework", "orjson", "google-cloud-storage"}
    assert not unknown


@pytest.mark.parametrize("module", sorted(DISTRIBUTIONS))
def test_the_mapping_agrees_with_installed_metadata(module: str) -> None:
    """Each import name really comes from the distribution the mapping names."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, module
    files = importlib.metadata.distribution(DISTRIBUTIONS[module]).files or []
    origin = Path(spec.origin).resolve()
    assert any(Path(f.locate()).resolve() == origin for f in files), (
        f"{module} ({origin}) is not a file of {DISTRIBUTIONS[module]}"
    )
