"""Google Cloud clients built from settings; nothing here knows a layer's tables or topics.

The bottom of the runtime library: every layer asks :mod:`salesphere.gcp.clients` for its
clients, and each layer's own reads and writes live in that layer (``ingest.ledger``,
``ingest.publish``, ``speed.sink``, ``batch.commit``).
"""
