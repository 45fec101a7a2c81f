"""SalesSphere tooling: the CLI, the local twin, the data generator, the report, the demo,
benchmarks and load tests.

It depends on the runtime library :mod:`salesphere` and never the reverse, and it is not
part of any deployed bundle: a Cloud Function or a Dataflow worker only ever gets
``salesphere``.
"""
