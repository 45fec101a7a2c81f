"""serving.replenishment's constants agree with what they stand for.

The view keeps the service level and its z in one CTE, reads sigma from interval widths
with the normal quantiles of 80% and 95%, and applies the catalogue's defaults to blank
terms; each number is checked here against its definition, so editing one of a pair
without the other fails.
"""

from __future__ import annotations

import re
from statistics import NormalDist

import numpy as np
import pytest
from pydantic import ValidationError

from salesphere import reference
from salesphere import replenishment as policy
from sql import GENERATED_DIR, SERVING_DIR

VIEW = (SERVING_DIR / "replenishment.sql").read_text(encoding="utf-8")


def _number(pattern: str) -> float:
    match = re.search(pattern, VIEW)
    assert match, pattern
    return float(match.group(1))


def test_the_service_level_table_is_the_policy_modules() -> None:
    levels = (GENERATED_DIR / "service_levels.sql").read_text(encoding="utf-8")
    assert policy.service_levels_sql() in levels
    assert "FROM serving.service_levels AS l" in VIEW
    for level in policy.SERVICE_LEVELS:
        assert policy.z(level) == pytest.approx(NormalDist().inv_cdf(level), abs=1e-12)
    assert "COALESCE(p.service_level, 0.95) AS service_level" in VIEW
    assert reference.Product.model_fields["service_level"].default == 0.95
    assert policy.DEFAULT_SERVICE_LEVEL == 0.95
    with pytest.raises(ValidationError, match="service_level"):
        _product(service_level="0.93")
    assert _product(service_level="0.98").service_level == 0.98


def test_sigma_over_the_cover_window_is_the_policy_modules() -> None:
    assert f"DATE_SUB(oa.last_day, INTERVAL {policy.SIGMA_DAYS - 1} DAY)), oa.last_day" in VIEW
    units = np.array([0, 3, 0, 0, 5, 1, 0, 2.0])
    # windows of 3 days: 3, 3, 5, 6, 6, 3 -> population sd
    sums = np.array([3, 3, 5, 6, 6, 3.0])
    assert policy.cover_sigma(units, 3) == pytest.approx(sums.std())
    assert policy.cover_sigma(units[:2], 3) == 0.0


def test_order_quantity_rounds_like_the_view() -> None:
    assert policy.order_quantity(10.0000001, 4, 0, 1, 0) == 6
    assert policy.order_quantity(10.2, 4, 0, 6, 0) == 12
    assert policy.order_quantity(10.2, 4, 0, 6, 20) == 24  # minimum 20 -> four cases
    assert policy.order_quantity(3, 4, 0, 6, 20) == 0
    assert policy.order_quantity(5, -3, 1, 1, 0) == 4  # negative stock counts as 0


@pytest.mark.parametrize(("column", "coverage"), [("hi_95", 0.95), ("hi_80", 0.80)])
def test_interval_widths_are_read_with_their_own_quantile(column: str, coverage: float) -> None:
    divisor = _number(rf"\(f\.units_{column} - f\.units\) / ([0-9.]+)")
    assert divisor == pytest.approx(NormalDist().inv_cdf(0.5 + coverage / 2), abs=1e-12)


@pytest.mark.parametrize(
    ("column", "default"),
    [
        ("review_period_days", reference.DEFAULT_REVIEW_PERIOD_DAYS),
        ("pack_size", reference.DEFAULT_PACK_SIZE),
        ("min_order_quantity", reference.DEFAULT_MIN_ORDER_QUANTITY),
    ],
)
def test_blank_catalogue_terms_take_the_models_defaults(column: str, default: int) -> None:
    assert f"COALESCE(p.{column}, {default}) AS {column}" in VIEW
    assert reference.Product.model_fields[column].default == default


def _product(**terms: object) -> reference.Product:
    base = {
        "sku": "K1",
        "name": "k",
        "category": "c",
        "unit_cost": "1.00",
        "list_price": "2.00",
        "reorder_point": 1,
        "supplier_lead_time_days": 5,
    }
    return reference.Product.model_validate(base | terms)


def test_catalogue_terms_default_and_validate() -> None:
    product = _product()
    assert (product.review_period_days, product.pack_size, product.min_order_quantity) == (
        7,
        1,
        0,
    )
    assert (
        _product(review_period_days="14", pack_size="12", min_order_quantity="24").pack_size == 12
    )
    for bad in ({"pack_size": 0}, {"review_period_days": 0}, {"min_order_quantity": -1}):
        with pytest.raises(ValidationError):
            _product(**bad)
    with pytest.raises(ValidationError, match="exceeds 365 days"):
        _product(supplier_lead_time_days=300, review_period_days=90)


def test_transfer_lead_time_defaults_are_the_reference_modules() -> None:
    same, other = (
        int(v) for v in re.search(r"IF\(fs\.state = ts\.state, (\d+), (\d+)\)", VIEW).groups()
    )
    assert same == reference.DEFAULT_TRANSFER_DAYS_SAME_STATE
    assert other == reference.DEFAULT_TRANSFER_DAYS_OTHER_STATE
