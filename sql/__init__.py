"""The serving layer's home: the analyst-facing views and the code that reads and renders them.

``serving/*.sql`` are written by hand, one documented view per file; ``serving/generated/``
holds the views rendered from the metric templates the batch layer also uses (never edit
them: edit the template in ``salesphere/sql/metrics/`` and run ``python -m sql.render``).
:mod:`sql.views` loads both folders in dependency order for the twin and for Pulumi, so the
twin and the cloud create exactly the same views in the same order.
"""

from pathlib import Path

#: Hand-written serving views.
SERVING_DIR = Path(__file__).resolve().parent / "serving"
#: Serving views rendered from ``salesphere/sql/metrics`` (see :mod:`sql.render`).
GENERATED_DIR = SERVING_DIR / "generated"
#: Every folder holding serving views, hand-written first.
VIEW_DIRS = (SERVING_DIR, GENERATED_DIR)


def view_files() -> list[Path]:
    """Every serving view file, ordered by view name."""
    return sorted((p for d in VIEW_DIRS for p in d.glob("*.sql")), key=lambda p: p.name)
