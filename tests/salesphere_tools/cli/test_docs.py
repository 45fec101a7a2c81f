"""Every serving view is documented, column by column, and the dictionary is current."""

from __future__ import annotations

import pytest
import sqlglot

from salesphere.sqldocs import parse, parse_dir
from salesphere_tools.cli.docs import DICTIONARY, render_dictionary
from sql import VIEW_DIRS, view_files

VIEW_FILES = view_files()


def test_there_are_serving_views() -> None:
    assert len(VIEW_FILES) >= 7


@pytest.mark.parametrize("path", VIEW_FILES, ids=lambda p: p.stem)
def test_view_documents_exactly_the_columns_it_selects(path) -> None:
    doc = parse(path)
    assert doc.name == f"serving.{path.stem}"
    assert doc.description, f"{path} has no description"
    selected = [
        s.alias_or_name for s in sqlglot.parse_one(path.read_text(), read="bigquery").selects
    ]
    if "*" in selected:  # SELECT * EXCEPT(...): the doc lists the resulting columns
        assert doc.columns
        return
    assert list(doc.columns) == selected
    assert all(doc.columns.values()), "every column needs a description"


def test_parser_joins_continuation_lines(tmp_path) -> None:
    sql = tmp_path / "v.sql"
    sql.write_text(
        "-- view: serving.v\n-- description: first part\n--   second part\n"
        "-- column: a: alpha\n--   more alpha\n-- column: b: beta\nSELECT 1 AS a, 2 AS b\n"
    )
    doc = parse(sql)
    assert doc.description == "first part second part"
    assert doc.columns == {"a": "alpha more alpha", "b": "beta"}


def test_committed_dictionary_is_current() -> None:
    assert DICTIONARY.read_text(encoding="utf-8") == render_dictionary(), (
        "docs/data-dictionary.md is stale: run `salesphere docs` and commit it"
    )
    assert len(parse_dir(*VIEW_DIRS)) == len(VIEW_FILES)
