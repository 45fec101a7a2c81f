"""The canonical event's JSON Schema, generated from the model for integrators.

Published at ``salesphere/schema/canonical_event.v<N>.json``; a test fails when the
committed file and the model disagree, so the document can never go stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import salesphere
from salesphere.model import SCHEMA_VERSION, CanonicalEvent

SCHEMA_DIR = Path(salesphere.__file__).parent / "schema"


def canonical_event_schema() -> dict[str, Any]:
    schema = CanonicalEvent.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://salesphere.example/schemas/canonical_event.v{SCHEMA_VERSION}.json"
    schema["title"] = f"SalesSphere canonical event, schema version {SCHEMA_VERSION}"
    return schema


def schema_path() -> Path:
    return SCHEMA_DIR / f"canonical_event.v{SCHEMA_VERSION}.json"


def render() -> str:
    return json.dumps(canonical_event_schema(), indent=2, sort_keys=True) + "\n"


def write() -> Path:
    path = schema_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    return path
