"""Settings travel to child processes through one declaration of their variables."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from salesphere.settings import ENVIRONMENT, Ports, Settings, SettingsError


def test_every_declared_setting_survives_the_trip_through_the_environment(tmp_path: Path) -> None:
    changed = replace(
        Settings(),
        project="p1",
        env="dev",
        region="europe-west1",
        host="127.0.0.2",
        twin_dir=tmp_path,
        ports=Ports(pubsub=1111, bigquery=2222),
        hmac_keys=(("pos-1", "s" * 40),),
        oidc_callers=("a@p.iam.gserviceaccount.com",),
        oidc_audiences=("https://x.run.app", "https://y.cloudfunctions.net/ingest-http"),
        max_inflight_requests=9,
        speed_sync_seconds=12.5,
        speed_sync_window_seconds=99.0,
        batch_lock_lease_seconds=33.0,
        forecast_enabled=False,
        forecast_horizon_days=14,
        forecast_backtest_every_days=3,
        forecast_backtest_folds=4,
        forecast_history_days=400,
        forecast_workers=2,
        forecast_runtime="beam",
        fiscal_accept_unauthorised=True,
        reference_ttl_seconds=12.5,
    )
    for var in ENVIRONMENT:  # each declared field really differs from its default here
        assert getattr(changed, var.field) != getattr(Settings(), var.field), var.field
    assert Settings.from_env(changed.to_environ()) == changed


def test_variable_names_are_unique_and_a_bad_number_names_its_variable() -> None:
    names = [var.name for var in ENVIRONMENT]
    assert len(names) == len(set(names))
    with pytest.raises(SettingsError, match="SALESPHERE_FORECAST_WORKERS"):
        Settings.from_env({"SALESPHERE_FORECAST_WORKERS": "two"})
    assert Settings.from_env({"SALESPHERE_FORECAST_WORKERS": ""}).forecast_workers == 1
