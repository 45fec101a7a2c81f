"""Read the documentation block at the top of each SQL view file.

Every view file starts with a comment block that documents the view for analysts::

    -- view: serving.sales_daily
    -- description: Sales per day, store and SKU ...
    -- column: day: Calendar day of the sale (UTC).
    -- column: net: Gross minus discounts minus returns, BRL.
    -- example: SELECT day, SUM(net) FROM serving.sales_daily GROUP BY day

The same parsed docs feed the generated data dictionary (``docs/data-dictionary.md``), the
view and column descriptions set in BigQuery, and a test that every selected column is
documented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_DOC = re.compile(r"^--\s*(view|description|column|example|grain|source)\s*:\s*(.*)$")


@dataclass
class ViewDoc:
    path: Path
    name: str = ""
    description: str = ""
    grain: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    @property
    def dataset(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.name.split(".", 1)[-1]


def parse(path: Path) -> ViewDoc:
    """Parse the leading ``-- key: value`` block; continuation lines extend the last key."""
    doc = ViewDoc(path=path, name=f"{path.parent.name}.{path.stem}")
    last: tuple[str, str | None] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("--"):
            break
        match = _DOC.match(line)
        if match:
            key, value = match.group(1), match.group(2).strip()
            if key == "view":
                doc.name = value
                last = None
            elif key == "column":
                col, _, text = value.partition(":")
                doc.columns[col.strip()] = text.strip()
                last = ("column", col.strip())
            elif key == "example":
                doc.examples.append(value)
                last = ("example", None)
            else:
                setattr(doc, key, value)
                last = (key, None)
            continue
        text = line.lstrip("-").strip()
        if last and text:
            key, col = last
            if key == "column" and col:
                doc.columns[col] = f"{doc.columns[col]} {text}".strip()
            elif key == "example":
                doc.examples[-1] = f"{doc.examples[-1]}\n{text}"
            else:
                setattr(doc, key, f"{getattr(doc, key)} {text}".strip())
    return doc


def parse_dir(*directories: Path) -> list[ViewDoc]:
    """Every view file's documentation in ``directories``, ordered by view name."""
    paths = [p for d in directories for p in d.glob("*.sql")]
    return [parse(p) for p in sorted(paths, key=lambda p: p.name)]


@dataclass(frozen=True)
class TableDoc:
    """A loaded (not queried) table documented beside the views: the reference data."""

    name: str
    description: str
    columns: tuple[tuple[str, str, str], ...]  # (column, type, meaning)


def data_dictionary(docs: list[ViewDoc], tables: tuple[TableDoc, ...] = ()) -> str:
    """Markdown: one section per view, its columns in a table, an example query.

    ``tables`` (the reference tables the views join) follow the views, with their types,
    so the catalogue's terms are read in the same place as the views built on them.
    """
    lines = [
        "# Data dictionary: serving views",
        "",
        "Generated from the documentation block of each view file in `sql/serving/` by",
        "`salesphere docs` — edit the SQL files, not this page. Query any view locally with",
        '`salesphere query "SELECT ..."`; in BigQuery the same text is on each view and column.',
        "",
        "**Days and hours are the store's.** Raw timestamps (`occurred_at`, `received_at`,",
        "`sale_hour`) are UTC instants. Every day or hour a view groups by is on the store's own",
        "clock, from `reference.stores.timezone`: `sale_date` is the local business date (a",
        "22:30 sale in São Paulo on 24/11 is on 24/11, not on 25/11 as in UTC), `sale_hour_local`",
        "the local hour 0-23. The web shop `WEB` keeps the company's home timezone",
        "(`America/Sao_Paulo`), which is also the fallback for a store missing from",
        "`reference.stores` (`salesphere/sql/metrics/home_timezone.sql`).",
        "",
    ]
    lines += [f"- [`{d.name}`](#{d.name.replace('.', '')})" for d in docs]
    for d in docs:
        lines += ["", f"## {d.name}", "", d.description or "(undocumented)", ""]
        if d.grain:
            lines += [f"**One row per:** {d.grain}", ""]
        lines += ["| column | meaning |", "|---|---|"]
        lines += [f"| `{c}` | {text} |" for c, text in d.columns.items()]
        example = d.examples[0] if d.examples else f"SELECT * FROM {d.name} LIMIT 20"
        lines += ["", "```sql", example, "```"]
    if tables:
        lines += [
            "",
            "# Reference tables",
            "",
            "Loaded from the reference files (`salesphere batch load-reference`), validated by",
            "`salesphere.reference`; defined in `salesphere/warehouse/schemas.py`.",
        ]
    for t in tables:
        lines += ["", f"## {t.name}", "", t.description, ""]
        lines += ["| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{c}` | {kind} | {text} |" for c, kind, text in t.columns]
    return "\n".join(lines) + "\n"
