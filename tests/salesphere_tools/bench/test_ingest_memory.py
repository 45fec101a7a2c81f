"""The file-drop memory figure is the peak of the process that read the file.

``make bench`` runs the file drops after the generator, in a process that already holds
a million events (and, run alone, possibly a forecast's arrays); the figure compared with
the ingest function's memory must not inherit any of that.
"""

from __future__ import annotations

from pathlib import Path

from salesphere_tools.bench.ingest import peak_memory_mib, write_csv

BALLAST_MIB = 400


def test_file_drop_peak_is_the_readers_own_not_the_benchmarks(tmp_path: Path) -> None:
    ballast = bytearray(BALLAST_MIB * 1024 * 1024)
    for i in range(0, len(ballast), 4096):  # touch every page: resident in this process
        ballast[i] = 1
    peak = peak_memory_mib(write_csv(tmp_path / "vendas_small.csv", 300))
    # An interpreter with the ingest path imported, reading 300 rows: far below the ballast
    assert 20 < peak < BALLAST_MIB / 2
    del ballast
