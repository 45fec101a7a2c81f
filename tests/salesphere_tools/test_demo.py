"""The demo's purchase suggestion summary: counts, shares and each urgent line's numbers."""

from __future__ import annotations

from datetime import date

from salesphere_tools.demo import summarize_suggestion


def _row(sku: str, **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "sku": sku,
        "on_hand": 40,
        "on_order": 0,
        "daily_demand": 2.0,
        "lead_time_days": 5,
        "computed_reorder_point": 14.0,
        "suggested_order_quantity": 0,
        "stockout_date": None,
        "urgent": False,
    }
    row.update(values)
    return row


def test_counts_what_to_order_and_explains_the_urgent_lines() -> None:
    rows = [
        _row("A", suggested_order_quantity=12),
        _row(
            "B",
            on_hand=3,
            on_order=4,
            daily_demand=1.5,
            lead_time_days=7,
            computed_reorder_point=13.2,
            suggested_order_quantity=24,
            stockout_date=date(2026, 12, 7),
            urgent=True,
        ),
        _row("C"),
        _row("D", daily_demand=0.0),
    ]
    summary = summarize_suggestion("SP01", rows)
    assert (summary.skus, summary.to_order, summary.units) == (4, 2, 36)
    assert summary.share == 0.5
    assert [u.sku for u in summary.urgent] == ["B"]
    why = summary.urgent[0].why()
    for part in ("3 on hand", "4 on order", "= 7", "13.2", "1.50/day", "7 days lead time"):
        assert part in why, (part, why)
    assert "2.0 days" in why and "2026-12-07" in why and why.endswith("order 24")
    # cover over the SKUs that sell: A, B, C -> 20, 2, 20 days: the median is 20
    assert summary.median_cover_days == 20.0
    text = summary.text()
    assert text.startswith("SP01: order 2 of 4 SKUs (50%, 36 units); 1 urgent")
    assert "urgent B:" in text


def test_urgent_lines_come_by_stock_out_date_and_a_negative_shelf_counts_as_empty() -> None:
    rows = [
        _row("late", urgent=True, suggested_order_quantity=6, stockout_date=date(2026, 12, 9)),
        _row("never", urgent=True, suggested_order_quantity=6),
        _row("soon", urgent=True, suggested_order_quantity=6, stockout_date=date(2026, 12, 6)),
        _row("wrong", on_hand=-5, suggested_order_quantity=6),
    ]
    summary = summarize_suggestion("RJ01", rows)
    assert [u.sku for u in summary.urgent] == ["soon", "late", "never"]
    assert summary.median_cover_days == 20.0  # -5 on hand covers 0 days, not less
    assert summarize_suggestion("X", []).text() == (
        "X: order 0 of 0 SKUs (0%, 0 units); 0 urgent (on hand plus on order at or below "
        "the reorder point)."
    )


def test_a_negative_shelf_lasts_no_days() -> None:
    rows = [_row("N", on_hand=-1, on_order=96, urgent=True, suggested_order_quantity=178)]
    why = summarize_suggestion("SP01", rows).urgent[0].why()
    assert "-1 on hand + 96 on order = 95" in why and "the shelf lasts 0.0 days" in why
