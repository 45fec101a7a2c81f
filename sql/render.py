"""Write the generated SQL: batch statements into ``salesphere/sql/batch/`` and merged serving
views into ``sql/serving/generated/``, each folder with a README saying what to edit.

The rendering itself is :func:`salesphere.batch.sqlrender.render_all` (the batch layer
reads its statements at run time); this module owns where serving's copies live and checks
that committed files match a fresh rendering. Run ``python -m sql.render`` after editing a
template in ``salesphere/sql/metrics/``.
"""

from __future__ import annotations

from pathlib import Path

from salesphere import replenishment
from salesphere.batch.sqlrender import GENERATED_MARK, render_all
from salesphere.sql import SQL_DIR
from sql import GENERATED_DIR

_SERVICE_LEVELS = """{mark} salesphere/replenishment.py (service_levels_sql)
-- view: serving.service_levels
-- description: The service levels a SKU may plan for (reference.products.service_level)
--   and the safety factor z of each: the standard normal quantile, which BigQuery has no
--   function for. serving.replenishment multiplies the spread of demand over lead time plus
--   review by it.
-- grain: service_level
-- column: service_level: Chance of not running out in a review cycle.
-- column: z: Its standard normal quantile (safety stock = z x sigma).
{body}
"""

_README = """# `{folder}`: generated, do not edit

Rendered by `python -m sql.render` from the metric templates in `salesphere/sql/metrics/`
(the aggregation is written once there and applied to both the batch and the speed source).
Edit the template, render, commit both; a test fails when they drift.

{files}
"""


def rendered() -> dict[Path, str]:
    """Every generated file (path -> content), READMEs included."""
    files = render_all(GENERATED_DIR)
    files[GENERATED_DIR / "service_levels.sql"] = _SERVICE_LEVELS.format(
        mark=GENERATED_MARK, body=replenishment.service_levels_sql()
    )
    out = dict(files)
    for here, label in (
        (SQL_DIR / "batch", "salesphere/sql/batch/"),
        (GENERATED_DIR, "sql/serving/generated/"),
    ):
        listed = "\n".join(
            f"- `{p.name}` (from {_sources(files[p])})" for p in sorted(files) if p.parent == here
        )
        out[here / "README.md"] = _README.format(folder=label, files=listed)
    return out


def _sources(text: str) -> str:
    """The templates a generated file names on its first line."""
    first = text.splitlines()[0]
    return first.split(" from ", 1)[1] if " from " in first else "see its first line"


def stale_files() -> list[Path]:
    """Generated files whose committed content differs from a fresh rendering, or that no
    template produces any more."""
    wanted = rendered()
    stale = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    orphans = [
        p
        for folder in (SQL_DIR / "batch", GENERATED_DIR)
        for p in folder.glob("*.sql")
        if p not in wanted
    ]
    return stale + orphans


def write_all() -> list[Path]:
    """(Re)write every generated file and remove orphans; returns the paths changed."""
    changed = []
    for path, text in rendered().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    for path in stale_files():
        if path.exists() and path.suffix == ".sql":
            path.unlink()
            changed.append(path)
    return changed


if __name__ == "__main__":  # pragma: no cover - developer entry point
    for changed_path in write_all():
        print(f"wrote {changed_path}")
