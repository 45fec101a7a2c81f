"""serving.replenishment's constants agree with what they stand for.

The view keeps the service level and its z in one CTE, reads sigma from interval widths
with the normal quantiles of 80% and 95%, and applies the catalogue's defaults to blank
terms; each number is checked here against its definition, so editing one of a pair
without the other fails.
"""

from __future__ import annotations

import re
from statistics import NormalDist

import pytest
from pydantic import ValidationError

from salesphere import reference
from sql import SERVING_DIR

VIEW = (SERVING_DIR / "replenishment.sql").read_text(encoding="utf-8")


def _number(pattern: str) -> float:
    match = re.search(pattern, VIEW)
    assert match, pattern
    return float(match.group(1))


def test_z_is_the_quantile_of_the_service_level() -> None:
    level = _number(r"([0-9.]+) AS service_level")
    z = _number(r"([0-9.]+) AS z\b")
    assert 0.5 < level < 1
    assert z == pytest.approx(NormalDist().inv_cdf(level), abs=1e-12)


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
