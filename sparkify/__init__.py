"""Support package for the Sparkify warehouse scripts (create_tables.py, etl.py, cleanup.py)."""

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SAMPLE_DIR = PROJECT_DIR / "sample_data"
# where the embedded PostgreSQL keeps its data (git-ignored); tests point it elsewhere
EMBEDDED_DATA_DIR = Path(os.environ.get("SPARKIFY_EMBEDDED_DIR") or PROJECT_DIR / ".pgdata")
