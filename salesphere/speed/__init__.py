"""The speed layer: Pub/Sub events to ``speed.*`` rows and stock alerts, in two runtimes.

The Cloud Function (``services/stream/main.py``) and the Beam pipeline
(``services/stream/pipeline.py``) call the same per-event logic here (``rows``, ``dedup``,
``alerts``), so a row in ``speed.events`` or ``speed.stock_alerts`` cannot depend on
which runtime wrote it. The layer's own I/O sits in its edge modules: ``sink`` (BigQuery
reads and idempotent writes), ``beam_sink`` (the same sink as Beam DoFns) and ``publish``
(alerts to Pub/Sub); the pure modules never touch a client.
"""
