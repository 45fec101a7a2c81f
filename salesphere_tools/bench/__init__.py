"""Benchmarks and load tests: what ``make bench`` measures, each beside its baseline.

:mod:`.suite` is the registry (``suite(scale)``: every case by name, each with a scale knob
so the test suite runs all of them tiny); :mod:`.figures` turns measurements into comparable
rows. One module per area measures it (``generate``, ``ingest``, ``load``, ``speed``,
``batch``, ``batch_memory``, ``forecast``); ``rss`` samples memory, ``duckdb_sql`` translates
the warehouse's BigQuery SQL for the DuckDB baseline. Nothing here ships in a bundle.
"""
