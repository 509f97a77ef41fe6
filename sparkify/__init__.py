"""Support package for the Sparkify warehouse scripts (create_tables.py, etl.py, cleanup.py)."""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SAMPLE_DIR = PROJECT_DIR / "sample_data"
EMBEDDED_DATA_DIR = PROJECT_DIR / ".pgdata"
