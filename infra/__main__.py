"""Pulumi entry point (``main: infra/`` in Pulumi.yaml): one call, everything else in modules."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # repo root: `import infra`

from infra.program import build

build()
