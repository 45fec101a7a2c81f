"""The warehouse SQL, shipped as package data so every deployable reads the same files.

``tables/`` holds exported table schemas, ``metrics/`` the aggregation templates written
once for batch and speed, ``batch/`` and ``serving/`` the statements rendered from them
and the hand-written serving views.
"""

from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent
