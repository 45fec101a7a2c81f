"""The batch pipeline's Beam transforms: files and hash buckets as elements, never events.

Reads as a sentence: ``ParseArchiveFiles`` -> ``DeduplicateByEventId`` -> ``StageParquet``.
Each step hands Arrow tables to DuckDB inside the DoFn (see ``chunks``), so the
per-element Python overhead is paid per file and per bucket, not per event.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.metrics import Metrics

from salesphere.batch import chunks
from salesphere.io import clients
from salesphere.settings import Settings

NAMESPACE = "salesphere.batch"


class _ParseFile(beam.DoFn):
    def __init__(self, settings: Settings, bucket_name: str, buckets: int, full: bool) -> None:
        self.settings = settings
        self.bucket_name = bucket_name
        self.buckets = buckets
        self.full = full

    def setup(self) -> None:
        self.bucket = clients.storage_client(self.settings).bucket(self.bucket_name)

    def process(self, element: tuple[str, str]) -> Iterator[tuple[int, pa.Table]]:
        name, received_date = element
        data = self.bucket.blob(name).download_as_bytes()
        parsed = chunks.parse_archive_file(data, received_date, full_validation=self.full)
        Metrics.counter(NAMESPACE, "files").inc()
        Metrics.counter(NAMESPACE, "envelopes").inc(parsed.envelopes)
        Metrics.counter(NAMESPACE, "bad_lines").inc(parsed.bad_lines)
        Metrics.counter(NAMESPACE, "rows_read").inc(parsed.rows.num_rows)
        for reason, count in parsed.invalid.items():
            Metrics.counter(NAMESPACE, f"invalid:{reason}").inc(count)
        for bucket, table in enumerate(chunks.bucket_of(parsed.rows, self.buckets)):
            if table.num_rows:
                yield bucket, table


class ParseArchiveFiles(beam.PTransform):
    """(object name, receive date) -> (hash bucket, Arrow rows) for every archive file."""

    def __init__(
        self, settings: Settings, bucket_name: str, buckets: int, full_validation: bool = False
    ) -> None:
        super().__init__()
        self.fn = _ParseFile(settings, bucket_name, buckets, full_validation)

    def expand(self, files):
        return files | "ParseFile" >> beam.ParDo(self.fn)


def _dedup(element: tuple[int, list[pa.Table]]) -> tuple[int, pa.Table]:
    bucket, tables = element
    table = chunks.deduplicate(list(tables))
    Metrics.counter(NAMESPACE, "rows_distinct").inc(table.num_rows)
    return bucket, table


class DeduplicateByEventId(beam.PTransform):
    """One row per event_id (earliest receipt) across every file read in this run."""

    def expand(self, buckets):
        return buckets | "GroupByBucket" >> beam.GroupByKey() | "KeepEarliest" >> beam.Map(_dedup)


class _WriteParquet(beam.DoFn):
    def __init__(self, settings: Settings, bucket_name: str, prefix: str) -> None:
        self.settings = settings
        self.bucket_name = bucket_name
        self.prefix = prefix

    def setup(self) -> None:
        self.bucket = clients.storage_client(self.settings).bucket(self.bucket_name)

    def process(self, element: tuple[int, pa.Table]) -> Iterator[str]:
        bucket, table = element
        if not table.num_rows:
            return
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        name = f"{self.prefix}/bucket-{bucket:04d}.parquet"
        # Deterministic names: a retried bundle overwrites its own file, never adds one.
        self.bucket.blob(name).upload_from_string(
            buffer.getvalue(), content_type="application/octet-stream"
        )
        Metrics.counter(NAMESPACE, "rows_staged").inc(table.num_rows)
        yield f"gs://{self.bucket_name}/{name}"


class StageParquet(beam.PTransform):
    """Write each deduplicated bucket as one Parquet file under the run's staging prefix."""

    def __init__(self, settings: Settings, bucket_name: str, prefix: str) -> None:
        super().__init__()
        self.fn = _WriteParquet(settings, bucket_name, prefix)

    def expand(self, buckets):
        return buckets | "WriteParquet" >> beam.ParDo(self.fn)
