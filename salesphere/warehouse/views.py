"""Create the batch tables in a warehouse, from ``salesphere/sql/batch``; load SQL view files.

Batch views are *materialised tables* (``batch.<name>``), refilled by each batch run in
one transaction together with ``batch.cutoff``; here they are only created, empty, with
the schema their own query produces (so a template change cannot drift from the table).
Serving views (``sql.views``) are loaded by the same :func:`load`, dependencies first (a
view that reads another view is created after it). References stay ``dataset.table``: the twin resolves
them in the client's default project; the cloud program qualifies them (``sqlrefs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from salesphere import names, sqlrefs
from salesphere.gcp import clients
from salesphere.settings import Settings
from salesphere.sql import SQL_DIR

#: The cutoff the serving views read; one row per committed batch run (newest wins).
CUTOFF_TABLE = f"{names.DATASET_BATCH}.cutoff"
CUTOFF_COLUMNS = (
    ("cutoff", "TIMESTAMP", "REQUIRED", "Receive time up to which batch views are complete."),
    ("run_id", "STRING", "REQUIRED", "The batch run that committed it (ops.batch_runs)."),
    ("committed_at", "TIMESTAMP", "REQUIRED", "When that run's transaction committed."),
)
#: Bound when creating empty batch tables; any timestamp does, no rows are selected.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SqlView:
    """One ``sql/<dataset>/<name>.sql`` file."""

    dataset: str
    name: str
    path: Path
    query: str

    @property
    def ref(self) -> str:
        return f"{self.dataset}.{self.name}"


def load(dataset: str, *directories: Path) -> list[SqlView]:
    """Every view of ``dataset`` found in ``directories``, dependencies first.

    By default the dataset's own folder of the package (``salesphere/sql/<dataset>``); the
    serving layer passes its hand-written and generated folders (``sql.views``).
    """
    directories = directories or (SQL_DIR / dataset,)
    found: dict[str, SqlView] = {}
    for directory in directories:
        for path in sorted(directory.glob("*.sql")):
            if path.stem in found:
                raise ValueError(
                    f"{dataset}.{path.stem} is defined twice ({found[path.stem].path} and "
                    f"{path}); keep one file per view"
                )
            found[path.stem] = SqlView(dataset, path.stem, path, path.read_text())
    if not found:
        # Fail loudly: with no views a batch run would refill nothing yet move the cutoff.
        raise FileNotFoundError(
            f"no {dataset} SQL under {', '.join(map(str, directories))}: the batch SQL ships "
            "as package data in salesphere/sql/ and the serving views in sql/serving/; "
            "reinstall or rebuild the bundle so it carries them"
        )
    graph = {
        name: {
            table
            for ds, table in sqlrefs.references(view.query, str(view.path))
            if ds == dataset and table in found and table != name
        }
        for name, view in found.items()
    }
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise ValueError(
            f"{dataset} views read each other in a cycle ({' -> '.join(exc.args[1])}); "
            "move the shared part into its own view"
        ) from exc
    return [found[name] for name in order]


def _cutoff_parameter():
    from google.cloud import bigquery

    return bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("cutoff", "TIMESTAMP", EPOCH)]
    )


def ensure_cutoff_table(settings: Settings) -> None:
    from google.cloud import bigquery

    client = clients.bigquery_client(settings)
    table = bigquery.Table(
        f"{settings.project}.{CUTOFF_TABLE}",
        schema=[
            bigquery.SchemaField(name, kind, mode=mode, description=doc)
            for name, kind, mode, doc in CUTOFF_COLUMNS
        ],
    )
    table.description = "The cutoff of each committed batch run; serving reads the newest."
    client.create_table(table, exists_ok=True)


def ensure_batch_tables(settings: Settings, sql_dir: Path = SQL_DIR) -> list[str]:
    """Create each missing ``batch.<name>`` table with the columns its query yields.

    A table whose columns no longer match its query (a template changed) is recreated
    empty and the cutoff cleared, so serving falls back to the speed layer instead of
    reading stale columns; the next ``salesphere batch run`` refills it.
    """
    client = clients.bigquery_client(settings)
    created = []
    for view in load(names.DATASET_BATCH, sql_dir / names.DATASET_BATCH):
        target = f"{settings.project}.{view.ref}"
        probe = client.query(
            f"SELECT * FROM ({view.query}) WHERE FALSE", job_config=_cutoff_parameter()
        ).result()
        wanted = [field.name for field in probe.schema]
        existing = client.get_table(target) if _exists(client, target) else None
        if existing is not None and [f.name for f in existing.schema] == wanted:
            continue
        if existing is not None:
            client.delete_table(target)
            client.query(f"DELETE FROM {CUTOFF_TABLE} WHERE TRUE").result()
        client.query(
            f"CREATE TABLE {view.ref} AS SELECT * FROM ({view.query}) WHERE FALSE",
            job_config=_cutoff_parameter(),
        ).result()
        created.append(view.ref)
    return created


def _exists(client, table: str) -> bool:  # client: bigquery.Client
    from google.api_core.exceptions import NotFound

    try:
        client.get_table(table)
    except NotFound:
        return False
    return True
