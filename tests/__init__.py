"""The test suite; its folders mirror the code (tests/<package>/...), so a module's tests are found from its path."""

from pathlib import Path

#: The repository root, for tests that read files beside the code (docs, services, infra).
REPO_ROOT = Path(__file__).resolve().parents[1]
