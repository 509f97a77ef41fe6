"""The COPY stand-in for PostgreSQL: what Redshift's ``COPY ... FORMAT AS JSON`` would load, from the
same files, streamed into ``COPY ... FROM STDIN`` with constant memory.

``load_table`` and ``validate_table`` (``load``) are the entry points; ``copy_rows`` streams rows
the caller has (the ledger's) the same way. Underneath: ``reader`` reads
JSON objects as Redshift does (its tolerant mode, for MAX_ERRORS and ``--validate``, is
``tolerant``); ``mapping`` turns records into rows (JSONPaths or ``auto``) from a picklable spec;
``fastpath`` is the measured whole-chunk path; ``rows`` the hot loop that joins them; ``values``
checks values against column types; ``render`` writes COPY CSV; ``workers`` renders in a pool of
processes for large input.
"""

from .load import copy_rows, load_table, validate_table

__all__ = ["copy_rows", "load_table", "validate_table"]
