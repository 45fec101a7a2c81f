"""Cost of reading fiscal XML: the compiled schemas' memory and documents per second.

Runs in a fresh interpreter so the memory figures are those of a function instance that
has just started: resident set size before ``lxml``/``nfelib`` are imported, after the
import, and after both schemas are compiled (what :mod:`salesphere.fiscal.schema`
keeps for the life of the process). The speed figure reads, validates and key-checks
nfelib's ten real authorised NF-e samples over and over.
"""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = r"""
import json, sys, time
from pathlib import Path

def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

start = rss_kib()
import nfelib  # noqa: F401
from salesphere.fiscal import document, schema
imported = rss_kib()
t = time.perf_counter()
schema.document_schema()
schema.event_schema()
compile_s = time.perf_counter() - t
compiled = rss_kib()
root = Path(nfelib.__file__).parent / "nfe" / "samples" / "v4_0" / "leiauteNFe"
samples = [p.read_bytes() for p in sorted(root.glob("35180834128745000152*-nfe.xml"))]
count, items, t = 0, 0, time.perf_counter()
while time.perf_counter() - t < float(sys.argv[1]):
    for data in samples:
        items += len(document.read(data).items)
        count += 1
seconds = time.perf_counter() - t
print(json.dumps({
    "import_mib": round((imported - start) / 1024, 1),
    "schemas_mib": round((compiled - imported) / 1024, 1),
    "compile_ms": round(compile_s * 1000, 1),
    "rss_mib": round(compiled / 1024, 1),
    "documents_per_second": round(count / seconds),
    "items_per_second": round(items / seconds),
}))
"""


def measure(scale: float = 1.0) -> dict[str, float]:
    """The figures, from a fresh ``python`` with this checkout on its path; the documents
    are read for ``2 s x scale`` (at least a tenth of a second)."""
    seconds = str(max(0.1, 2.0 * scale))
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, seconds], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
