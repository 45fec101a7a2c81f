"""Open a page in headless Chromium and return the DOM after its scripts ran.

Used by the dashboard's browser test and by ``salesphere report --check``: the page is
only "rendered" when the browser says so, not when the HTML file exists.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

#: Flags for a closed network: no background traffic, no sandbox as root, no GPU.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise FileNotFoundError(
        "Chromium is not installed; run `bash scripts/setup-browser.sh` (Debian's chromium package)."
    )


def rendered_dom(page: Path, *, budget_ms: int = 8000, timeout: float = 60) -> str:
    """The page's DOM after up to ``budget_ms`` of virtual time (scripts run, charts drawn)."""
    with tempfile.TemporaryDirectory(prefix="salesphere-chromium-") as profile:
        result = subprocess.run(
            [
                find_chromium(),
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0 or not result.stdout:
        raise RuntimeError(f"Chromium failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout
