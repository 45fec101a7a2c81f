"""The batch function's request checks: a bad body is a 400 that says what to send."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from salesphere.settings import Settings
from tests import REPO_ROOT

MAIN = REPO_ROOT / "services" / "batch" / "main.py"


def _main() -> ModuleType:
    spec = importlib.util.spec_from_file_location("batch_main_under_test", MAIN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"archive_lag_seconds": "ten"}, "archive_lag_seconds must be a number"),
        ({"archive_lag_seconds": None}, "archive_lag_seconds must be a number"),
        ({"archive_lag_seconds": [1]}, "archive_lag_seconds must be a number"),
        ({"archive_lag_seconds": -5}, "between 0 and"),
        ({"archive_lag_seconds": 1e300}, "between 0 and"),
        ({"from": 20261124}, "from/to must be YYYY-MM-DD"),
        ({"mode": "everything"}, "mode must be"),
    ],
)
def test_bad_requests_are_refused_before_any_work(body: dict, says: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    main = _main()

    def must_not_run(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a bad request must not start a batch run")

    monkeypatch.setattr(main, "run_batch", must_not_run)
    payload, status = main.handle(body, {}, Settings())
    assert status == 400
    assert says in payload["error"]
