"""`salesphere ingest` routes `post` to its own sub-command and everything else to `drop`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from salesphere_tools.cli.main import app
from salesphere_tools.ingest import send


@pytest.fixture
def sent(monkeypatch) -> dict[str, list]:  # type: ignore[no-untyped-def]
    """Replace the senders: record what each command would have sent."""
    calls: dict[str, list] = {"upload": [], "post": []}

    def upload(settings, paths, source=None):  # type: ignore[no-untyped-def]
        calls["upload"].append(([p.name for p in paths], source))
        return [{"file": str(p), "object": f"{source}/{p.name}", "sha256": "0"} for p in paths]

    def post(settings, path, source, url=None):  # type: ignore[no-untyped-def]
        calls["post"].append((path.name, source, url))
        return 200, {"summary": {"accepted": 1}}

    monkeypatch.setattr(send, "upload_files", upload)
    monkeypatch.setattr(send, "post_batch", post)
    return calls


def test_files_without_a_subcommand_are_dropped(tmp_path: Path, sent: dict) -> None:
    sheet = tmp_path / "vendas_SP01.csv"
    sheet.write_text("a\n")
    result = CliRunner().invoke(app, ["ingest", "--source", "spreadsheet", str(sheet)])
    assert result.exit_code == 0, result.output
    assert sent == {"upload": [(["vendas_SP01.csv"], "spreadsheet")], "post": []}
    result = CliRunner().invoke(app, ["ingest", "drop", str(sheet)])
    assert result.exit_code == 0, result.output
    assert sent["upload"][-1] == (["vendas_SP01.csv"], None)


def test_post_is_a_subcommand_with_a_required_source(tmp_path: Path, sent: dict) -> None:
    batch = tmp_path / "pos.json"
    batch.write_text("[]")
    result = CliRunner().invoke(app, ["ingest", "post", str(batch), "--source", "pos"])
    assert result.exit_code == 0, result.output
    assert sent == {"upload": [], "post": [("pos.json", "pos", None)]}
    result = CliRunner().invoke(app, ["ingest", "post", str(batch)])
    assert result.exit_code != 0 and "--source" in result.output


def test_a_missing_file_is_refused_before_anything_is_sent(tmp_path: Path, sent: dict) -> None:
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "missing.csv")])
    assert result.exit_code != 0 and "not a file" in result.output
    assert sent == {"upload": [], "post": []}
