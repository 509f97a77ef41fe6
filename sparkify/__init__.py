"""Support package for the Sparkify warehouse scripts (create_tables.py, etl.py, cleanup.py)."""

from . import interrupts  # noqa: F401, I001 -- first of all: Ctrl-C from here on is one line

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SAMPLE_DIR = PROJECT_DIR / "sample_data"
# where the embedded PostgreSQL keeps its data (git-ignored); tests point it elsewhere
EMBEDDED_DATA_DIR = Path(os.environ.get("SPARKIFY_EMBEDDED_DIR") or PROJECT_DIR / ".pgdata")
