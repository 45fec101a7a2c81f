"""The statistical alternatives: they still forecast, and the runtime library never needs them."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import numpy as np

from salesphere_tools.forecast.alternatives import ALTERNATIVES

D0 = date(2026, 1, 5)
RUNTIME = Path(__file__).resolve().parents[3] / "salesphere"


def test_every_alternative_forecasts_a_censored_intermittent_series() -> None:
    y = np.array([0, 0, 1, np.nan, 0, 3, 0] * 10, dtype=float)
    assert set(ALTERNATIVES) == {"auto_ets", "ets_calendar", "croston_sba", "tsb", "adida"}
    for name, model in ALTERNATIVES.items():
        pred = model.predict(y, D0, 14)
        assert pred.mean.shape == (14,) and (pred.mean >= 0).all(), name
        assert (pred.lo[95] <= pred.mean + 1e-9).all() and (pred.mean <= pred.hi[95] + 1e-9).all()
    assert (ALTERNATIVES["auto_ets"].predict(np.full(20, np.nan), D0, 7).mean == 0).all()


def test_a_croston_forecast_follows_the_demand_it_saw() -> None:
    sparse = np.array([0, 0, 0, 4, 0, 0, 0] * 12, dtype=float)
    busy = sparse * 5
    croston = ALTERNATIVES["croston_sba"]
    low, high = croston.point(sparse, D0, 7), croston.point(busy, D0, 7)
    assert 0 < low.mean() < 4 and np.allclose(high, low * 5)


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_the_runtime_library_never_imports_statsforecast() -> None:
    """Every function bundles the runtime library; statsforecast would have to follow it."""
    offenders = [
        str(p.relative_to(RUNTIME))
        for p in RUNTIME.rglob("*.py")
        if "statsforecast" in _imported(p)
    ]
    assert not offenders, f"move these to salesphere_tools (tooling): {offenders}"
