"""The SalesSphere Pulumi program: one ComponentResource per layer, built by ``program.build``.

Kept importable (no resources at import time) so ``salesphere infra preview`` and the
tests can run the real program under Pulumi's mocks, in-process, as often as they like.
"""
