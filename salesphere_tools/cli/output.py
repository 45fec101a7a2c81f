"""Writing a command's result where the user asked (``--json PATH``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer


def write_json(path: Path, payload: Any) -> None:
    """``payload`` as indented JSON at ``path`` (folders created), and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"wrote {path}")
