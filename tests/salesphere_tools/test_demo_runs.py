"""`make demo` end to end, at a small scale: the quick start must keep working.

The demo is the first thing a newcomer runs; it drives every layer (the twin, ingest, the
speed and batch layers, the forecast, the purchase suggestion, the dashboard), so a break
anywhere shows here first. It starts its own twin, on free ports (beside the suite's twin
and a developer's own), in a subprocess whose environment carries none of the suite's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from salesphere.settings import Ports, Settings
from salesphere_tools.local.prereqs import free_port

pytestmark = pytest.mark.slow
#: The subprocess's own limit; the suite's default per-test time-out (5 min) is for tests
#: that start nothing of their own, while this one starts a whole twin (3-4 min when quiet).
DEMO_TIMEOUT_S = 1200


def _demo_environ() -> dict[str, str]:
    """This process's environment without the session twin's, and free ports of its own."""
    twin_keys = set(Settings().to_environ())
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in twin_keys and not k.startswith("SALESPHERE_") and "EMULATOR_HOST" not in k
    }
    ports = Ports(**{name: free_port() for name in Ports.__dataclass_fields__})
    own = {
        k: v
        for k, v in Settings(ports=ports).to_environ().items()
        if "PORT" in k or "EMULATOR_HOST" in k
    }
    return {**clean, **own}


@pytest.mark.timeout(DEMO_TIMEOUT_S + 60)
def test_the_demo_runs_end_to_end_and_leaves_what_it_promises(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    cli = Path(sys.executable).with_name("salesphere")
    result = subprocess.run(
        [str(cli), "demo", "--days", "3", "--stores", "1", "--out", str(out)],
        env=_demo_environ(),
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
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
