"""Tooling around the demand forecast: the benchmark (the runtime is ``salesphere.forecast``)."""
