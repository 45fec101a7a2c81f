"""Memory figures measure the process they name, not the one that started it."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = (
    "import json, resource; from salesphere_tools.bench.rss import own_peak_mib; "
    "print(json.dumps({'own': own_peak_mib(), "
    "'ru_maxrss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))"
)


def test_a_child_of_a_large_parent_reports_its_own_peak() -> None:
    ballast = bytearray(400 * 1024 * 1024)
    for i in range(0, len(ballast), 4096):  # touch every page: resident in this process
        ballast[i] = 1
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    got = json.loads(done.stdout)
    # Linux carries the forking parent's high-water mark across exec into ru_maxrss...
    assert got["ru_maxrss"] > 400
    # ...while the child's own peak is that of a small interpreter.
    assert got["own"] < 150
    del ballast
