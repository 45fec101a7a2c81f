"""Reference CSVs: blank optional cells take the catalogue default, blank required ones fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from salesphere.reference import Product
from salesphere_tools.warehouse.reference import read_rows

HEADER = (
    "sku,name,category,unit_cost,list_price,reorder_point,supplier_lead_time_days,supplier,"
    "review_period_days,pack_size,min_order_quantity\n"
)


def test_blank_replenishment_terms_take_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(
        HEADER + "K1,Caneta,Papelaria,1.00,2.90,10,3,Papelaria Central,,,\n"
        "K2,Caderno,Papelaria,4.00,9.90,10,3,Papelaria Central,14,12,24\n",
        encoding="utf-8",
    )
    first, second = read_rows(path, Product)
    assert (first["review_period_days"], first["pack_size"], first["min_order_quantity"]) == (
        7,
        1,
        0,
    )
    assert (second["review_period_days"], second["pack_size"], second["min_order_quantity"]) == (
        14,
        12,
        24,
    )


def test_a_catalogue_without_the_terms_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    old_header = HEADER.rsplit(",review_period_days", 1)[0] + "\n"
    path.write_text(old_header + "K1,Caneta,Papelaria,1.00,2.90,10,3,x\n", encoding="utf-8")
    assert read_rows(path, Product)[0]["pack_size"] == 1


def test_a_bad_pack_size_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(HEADER + "K1,Caneta,Papelaria,1.00,2.90,10,3,x,7,0,0\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"products.csv:2: \('pack_size',\)"):
        read_rows(path, Product)
    path.write_text(HEADER + "K1,Caneta,Papelaria,1.00,2.90,,3,x,7,1,0\n", encoding="utf-8")
    with pytest.raises(ValueError, match="reorder_point"):
        read_rows(path, Product)


def test_transfer_lead_times_read_per_pair(tmp_path: Path) -> None:
    from salesphere.reference import TransferLeadTime

    path = tmp_path / "transfer_lead_times.csv"
    path.write_text("from_store,to_store,days\nSP01,SP02,1\nSP01,RJ01,3\n")
    rows = read_rows(path, TransferLeadTime)
    assert rows == [
        {"from_store": "SP01", "to_store": "SP02", "days": 1},
        {"from_store": "SP01", "to_store": "RJ01", "days": 3},
    ]


def test_a_transfer_to_the_same_store_names_the_row(tmp_path: Path) -> None:
    from salesphere.reference import TransferLeadTime

    path = tmp_path / "transfer_lead_times.csv"
    path.write_text("from_store,to_store,days\nSP01,SP01,1\n")
    with pytest.raises(ValueError, match=r"transfer_lead_times.csv:2: .*two stores"):
        read_rows(path, TransferLeadTime)
