"""Importing a previous system's daily sales, and the forecast reading it with the platform's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from salesphere.batch import forecast_tables as warehouse
from salesphere.batch.runner import run_batch
from salesphere.gcp import clients
from salesphere.ingest import history
from salesphere.ingest.readers import FileRejected
from tests.support import batch as h

HEADER = "Loja;Produto;Data;Quantidade;Valor Líquido\n"


def _write(path: Path, lines: list[str], encoding: str = "latin-1") -> Path:
    path.write_bytes((HEADER + "".join(line + "\n" for line in lines)).encode(encoding))
    return path


def test_brazilian_rows_parse_and_bad_rows_are_quarantined_with_reasons(tmp_path) -> None:
    path = _write(
        tmp_path / "vendas.csv",
        [
            "S1;K1;03/01/2025;4;1.234,50",
            "S1;K1;04/01/2025;2,0;19,90",
            "S1;K1;31/02/2025;1;9,90",  # no such day
            "S1;K2;05/01/2025;-1;9,90",  # negative units
            "S1;K2;06/01/2025;1;9,999",  # more than cents
            "S1;K1;03/01/2025;5;10,00",  # second row for a day already given
        ],
    )
    report, rows = history.parse_file(path)
    assert (report.received, report.accepted, report.rejected) == (6, 2, 4)
    assert rows[0] == {
        "store_id": "S1",
        "sku": "K1",
        "day": "2025-01-03",
        "units": 4,
        "net_sales": "1234.50",
        "file_row": 2,
    }
    assert rows[1]["units"] == 2 and Decimal(rows[1]["net_sales"]) == Decimal("19.90")
    assert [(r.row, r.field) for r in report.rejects] == [
        (4, "day"),
        (5, "units"),
        (6, "net_sales"),
        (7, "day"),
    ]
    assert report.rejects[-1].rule == "duplicate_day"
    assert (report.first_day, report.last_day) == (date(2025, 1, 3), date(2025, 1, 4))


def test_a_file_without_a_needed_column_is_refused_with_what_to_rename(tmp_path) -> None:
    path = tmp_path / "vendas.csv"
    path.write_text("Loja;Produto;Data;Quantidade\nS1;K1;03/01/2025;4\n", encoding="utf-8")
    with pytest.raises(FileRejected, match="no column for net_sales") as err:
        history.parse_file(path)
    assert err.value.rule == "missing_column"


def test_the_headers_old_systems_write_are_recognised(tmp_path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "Cód. Loja;Código Produto;Data da Venda;Qtde;Valor Líquido (R$)\n"
        "S1;K1;03/01/2025;4;10,00\n",
        encoding="utf-8",
    )
    report, rows = history.parse_file(path)
    assert report.rejected == 0 and rows[0]["units"] == 4 and rows[0]["net_sales"] == "10.00"


def test_iso_days_are_read_and_a_day_in_the_future_is_refused(tmp_path) -> None:
    tomorrow_anywhere = datetime.now(UTC) + timedelta(days=2)
    path = _write(
        tmp_path / "vendas.csv",
        [
            "S1;K1;2025-01-03;4;10,00",  # a database export's dates
            f"S1;K1;{tomorrow_anywhere:%d/%m/%Y};1;9,90",
            "S1;K1;03/01/2099;1;9,90",  # a typo in the year
        ],
    )
    report, rows = history.parse_file(path)
    assert [r["day"] for r in rows] == ["2025-01-03"]
    assert [(r.row, r.field, r.rule) for r in report.rejects] == [
        (3, "day", "future_day"),
        (4, "day", "future_day"),
    ]
    assert "has not happened yet" in report.rejects[-1].message


def test_codes_a_spreadsheet_stores_as_numbers_are_text(tmp_path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Loja", "Produto", "Data", "Quantidade", "Valor Líquido"])
    sheet.append([1, 789123, datetime(2025, 1, 3), 4, 10.5])
    sheet.append([1.5, 789124, datetime(2025, 1, 3), 4, 10.5])  # not a code
    path = tmp_path / "vendas.xlsx"
    book.save(path)
    report, rows = history.parse_file(path)
    assert [(r["store_id"], r["sku"], r["day"]) for r in rows] == [("1", "789123", "2025-01-03")]
    assert [(r.row, r.field) for r in report.rejects] == [(3, "store_id")]


def test_codes_the_catalogue_does_not_know_are_refused_unless_it_is_empty(tmp_path) -> None:
    from salesphere.ingest.catalog import Reference

    lines = ["S1;K1;03/01/2025;4;10,00", "S9;K1;03/01/2025;1;9,90", "S1;K7;04/01/2025;1;9,90"]
    report, rows = history.parse_file(_write(tmp_path / "vendas.csv", lines))
    catalogue = Reference(skus=frozenset({"K1"}), stores=frozenset({"S1"}))
    kept = history.check_reference(report, rows, catalogue)
    assert [(r["store_id"], r["sku"]) for r in kept] == [("S1", "K1")]
    assert [(r.row, r.field, r.rule) for r in report.rejects] == [
        (3, "store_id", "unknown_store"),
        (4, "sku", "unknown_sku"),
    ]
    assert "reference.stores" in report.rejects[0].message
    assert (report.received, report.accepted, report.rejected) == (3, 1, 2)
    assert report.first_day == report.last_day == date(2025, 1, 3)

    report, rows = history.parse_file(_write(tmp_path / "again.csv", lines))
    assert len(history.check_reference(report, rows, Reference())) == 3  # not loaded yet


@pytest.mark.twin
def test_history_lands_once_a_correction_wins_and_the_platform_wins_the_forecast_input(
    quiet_twin, tmp_path
) -> None:
    settings = quiet_twin.settings
    h.reset(settings)
    bq = clients.bigquery_client(settings)
    for table in ("master.daily_history", "ops.ingest_log", "ops.rejects"):
        bq.query_and_wait(f"DELETE FROM {table} WHERE TRUE")

    received = datetime.now(UTC) - timedelta(hours=2)
    days = [date(2026, 11, 18) + timedelta(days=i) for i in range(11)]  # 18/11 .. 28/11
    platform_days = [date(2026, 11, 26), date(2026, 11, 27)]
    # the old system: K1 in S1 every day, overlapping the platform's first days
    lines = [f"S1;K1;{d:%d/%m/%Y};7;70,00" for d in days] + ["S1;K1;bad;1;1,00"]
    first = _write(tmp_path / "historico.csv", lines)
    report = history.import_file(settings, first)
    assert (report.received, report.accepted, report.rejected) == (12, 11, 1)
    again = history.import_file(settings, first)
    assert again.already_imported
    stored = clients.query_rows(settings, "SELECT COUNT(*) AS n FROM master.daily_history")
    assert stored[0]["n"] == 11
    log = clients.query_rows(settings, "SELECT * FROM ops.ingest_log WHERE source = 'history'")
    assert [(r["records_received"], r["records_accepted"], r["records_rejected"]) for r in log] == [
        (12, 11, 1)
    ]
    rejects = clients.query_rows(settings, "SELECT * FROM ops.rejects WHERE source = 'history'")
    assert [(r["location"], r["field"]) for r in rejects] == [("row 13", "day")]

    # a corrected file for the oldest day: the newest import wins that day
    fixed = _write(tmp_path / "historico_corrigido.csv", [f"S1;K1;{days[0]:%d/%m/%Y};3;30,00"])
    assert history.import_file(settings, fixed).accepted == 1

    # the platform saw two of those days itself (1 unit each, at noon in Sao Paulo)
    events = [h.sale(i, received, day=d.day, hour=15) for i, d in enumerate(platform_days)]
    h.archive(settings, events, "platform")
    report = run_batch(settings, full=True, archive_lag=timedelta(0), run_id="hist-1")
    assert report.status == "succeeded", report

    cols = warehouse.read_sales(settings, days[0])
    got = {
        (s, k, d): u
        for s, k, d, u in zip(
            cols["store_id"], cols["sku"], cols["day"], cols["units"], strict=True
        )
    }
    assert len(got) == len(cols["day"])  # one value per store, SKU and day
    assert got[("S1", "K1", days[0])] == 3  # the correction
    imported_only = [d for d in days[1:] if d not in platform_days]
    assert all(got[("S1", "K1", d)] == 7 for d in imported_only)
    assert all(got[("S1", "K1", d)] == 1 for d in platform_days)  # the platform's days win
    assert len(got) == len(days)
