"""`make demo` end to end, at a small scale: the quick start must keep working.

The demo is the first thing a newcomer runs; it drives every layer (the twin, ingest, the
speed and batch layers, the forecast, the purchase suggestion, the dashboard), so a break
anywhere shows here first. It starts its own twin on the default ports, in a subprocess
whose environment carries none of the test twin's settings.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from salesphere.settings import Settings

pytestmark = pytest.mark.slow


def _clean_environ() -> dict[str, str]:
    """This process's environment without the session twin's (the demo starts its own)."""
    twin_keys = set(Settings().to_environ())
    return {
        k: v
        for k, v in os.environ.items()
        if k not in twin_keys and not k.startswith("SALESPHERE_") and "EMULATOR_HOST" not in k
    }


def test_the_demo_runs_end_to_end_and_leaves_what_it_promises(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    cli = Path(sys.executable).with_name("salesphere")
    result = subprocess.run(
        [str(cli), "demo", "--days", "3", "--stores", "1", "--out", str(out)],
        env=_clean_environ(),
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    text = result.stdout + result.stderr
    assert result.returncode == 0, text[-4000:]
    assert "Demo step failed" not in text
    assert "reconcile: OK" in text
    assert "Serving totals match the generator's own books" in text
    assert (out / "salesphere-dashboard.html").stat().st_size > 10_000
    suggestion = out / "sugestao_compra_SP01.csv"
    lines = suggestion.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("Data da revisão;Loja;SKU") and len(lines) > 1
