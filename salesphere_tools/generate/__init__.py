"""Realistic SalesSphere data: a seeded simulation of a Brazilian retailer and its sources.

``generate(GeneratorConfig(out=..., days=..., stores=..., seed=...))`` writes what the
real sources send (POS and e-commerce JSON batches, end-of-day spreadsheets, the
inventory export, reference files) plus ``manifest.json`` with the defects injected and
the figures a correct platform must reproduce. Same seed, same bytes.
See ``docs/data-generator.md``.
"""

from __future__ import annotations

from salesphere_tools.generate.config import GeneratorConfig
from salesphere_tools.generate.generator import generate
from salesphere_tools.generate.manifest import Manifest

__all__ = ["GeneratorConfig", "Manifest", "generate"]
