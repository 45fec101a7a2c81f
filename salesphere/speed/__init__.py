"""The speed layer's per-event logic, shared by both runtimes.

The Cloud Function (``services/stream/main.py``) and the Beam pipeline
(``services/stream/pipeline.py``) call the same functions here, so a row in
``speed.events`` or ``speed.stock_alerts`` cannot depend on which runtime wrote it.
Nothing in this package does I/O; the BigQuery and Pub/Sub edges live in
``salesphere.io.bq_sink`` and ``salesphere.speed.publish``.
"""
