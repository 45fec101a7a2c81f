"""Content-hashed function bundles and serving views built from SQL files, in order."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.settings import repo_root
from infra.sources import bundle
from sql.views import load_views


def _repo(tmp_path: Path) -> Path:
    (tmp_path / "services" / "ingest" / "tests").mkdir(parents=True)
    (tmp_path / "services" / "ingest" / "main.py").write_text("def ingest_http(r): ...\n")
    (tmp_path / "services" / "ingest" / "tests" / "test_x.py").write_text("x = 1\n")
    (tmp_path / "salesphere" / "__pycache__").mkdir(parents=True)
    (tmp_path / "salesphere" / "model.py").write_text("MODEL = 1\n")
    (tmp_path / "salesphere" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"\0")
    return tmp_path


def test_bundle_ships_service_and_library_without_tests_or_caches(tmp_path: Path) -> None:
    source = bundle("ingest", _repo(tmp_path))
    assert [name for name, _ in source.files] == ["main.py", "salesphere/model.py"]
    assert source.object_name.startswith("functions/ingest-") and source.object_name.endswith(
        ".zip"
    )


def test_object_name_changes_exactly_when_shipped_code_changes(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    first = bundle("ingest", root).object_name
    assert bundle("ingest", root).object_name == first  # unchanged tree: no redeploy
    (root / "services" / "ingest" / "tests" / "test_x.py").write_text("x = 2\n")
    assert bundle("ingest", root).object_name == first  # tests are not shipped
    (root / "salesphere" / "model.py").write_text("MODEL = 2\n")
    second = bundle("ingest", root).object_name
    assert second != first  # library change redeploys
    (root / "services" / "ingest" / "main.py").write_text("def ingest_http(r): return 1\n")
    assert bundle("ingest", root).object_name not in (first, second)


def test_real_bundles_differ_per_service() -> None:
    names = {bundle(s, repo_root()).object_name for s in ("ingest", "stream", "batch")}
    assert len(names) == 3


def _sql(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, sql in files.items():
        (tmp_path / f"{name}.sql").write_text(sql)
    return tmp_path


def test_views_are_qualified_and_ordered_by_dependency(tmp_path: Path) -> None:
    sql_dir = _sql(
        tmp_path,
        {
            "a_top": "SELECT * FROM serving.m_middle WHERE x > 1",
            "m_middle": "SELECT s.* FROM serving.z_base AS s JOIN reference.products p USING (sku)",
            "z_base": "SELECT store_id, sku FROM master.events UNION ALL "
            "SELECT store_id, sku FROM speed.events",
        },
    )
    views = load_views("salesphere-prod", sql_dir)
    assert [v.name for v in views] == ["z_base", "m_middle", "a_top"]
    top = views[-1]
    assert "`salesphere-prod`.serving.m_middle" in top.query
    assert top.depends_on_views == {"m_middle"}
    assert views[0].reads == {("master", "events"), ("speed", "events")}


def test_view_cycle_is_reported(tmp_path: Path) -> None:
    sql_dir = _sql(tmp_path, {"a": "SELECT * FROM serving.b", "b": "SELECT * FROM serving.a"})
    with pytest.raises(ValueError, match="cycle"):
        load_views("p", sql_dir)


def test_program_builds_views_with_dependencies(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Run the real program over a copy of the repo whose sql/serving has two views."""
    import infra.functions
    import infra.program
    from infra.mocking import run_program

    root = tmp_path / "repo"
    shutil.copytree(repo_root() / "salesphere", root / "salesphere")
    (root / "sql" / "serving" / "generated").mkdir(parents=True)
    _sql(
        root / "sql" / "serving",
        {
            "sales_daily": "SELECT DATE(occurred_at) AS day, SUM(quantity) AS units "
            "FROM master.events GROUP BY 1",
            "sales_recent": "SELECT * FROM serving.sales_daily WHERE day > '2026-01-01'",
        },
    )
    monkeypatch.setattr(infra.program, "repo_root", lambda: root)
    monkeypatch.setattr(infra.functions, "repo_root", lambda: root)
    run = run_program("pr-9")
    daily, recent = run.by_name("view-sales_daily"), run.by_name("view-sales_recent")
    assert "`salesphere-ci`.master.events" in daily.inputs["view"]["query"]
    assert daily.inputs["view"]["useLegacySql"] is False
    assert run.by_name("table-master-events").urn in daily.dependencies
    assert daily.urn in recent.dependencies
    assert run.warnings == []
