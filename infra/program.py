"""The whole stack: settings read once, then one component per layer.

``build()`` is the only thing ``infra/__main__.py`` calls, so tests and
``salesphere infra preview`` can run exactly the deployed program under mocks.
"""

from __future__ import annotations

import pulumi

from infra.analysts import authorise_serving, grant_analysts
from infra.batch import Batch
from infra.foundation import Foundation
from infra.functions import invoke_url
from infra.ingest import Ingest
from infra.schemas import table_specs
from infra.serving import Serving
from infra.settings import read_settings, repo_root
from infra.speed import Speed


def build() -> None:
    """Declare every resource of the current stack."""
    settings = read_settings()
    root = repo_root()
    specs = table_specs(root / "salesphere" / "sql" / "tables")
    foundation = Foundation(settings)
    ingest = Ingest(settings, foundation)
    speed = Speed(settings, foundation, specs)
    batch = Batch(settings, foundation, specs)
    serving = Serving(
        settings,
        foundation,
        specs,
        upstream={**speed.tables, **batch.tables},
        root=root,
    )
    authorise_serving(settings, foundation, serving.reads, serving)
    grant_analysts(settings, foundation, serving)
    pulumi.export("project", settings.project)
    pulumi.export("ingest_url", ingest.url)
    pulumi.export("ingest_audiences", ingest.audiences)
    pulumi.export("batch_url", invoke_url(batch.function))
    pulumi.export("archive_bucket", foundation.archive.name)
    pulumi.export("views", sorted(serving.views))
