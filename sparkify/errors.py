"""Named exceptions. Each carries a one-line message that says what went wrong and what to do.

The scripts turn any of these into one line on stderr and a non-zero exit; anything else is a bug
and keeps its traceback.
"""

from collections.abc import Callable
from typing import Any


class Terminated(BaseException):
    """SIGTERM, raised where the run stands (``cli.run`` installs the handler), so it unwinds as
    Ctrl-C does: the transaction is rolled back, worker processes end, and the embedded server this
    run started is stopped at exit."""


class SparkifyError(Exception):
    """Base class of every error a user can cause and fix."""

    exit_code = 1


class ChartsError(SparkifyError):
    """Charts that cannot be written, or that would show nothing."""


class ConfigError(SparkifyError):
    """A missing or malformed configuration value."""

    exit_code = 2


class DataSourceError(SparkifyError):
    """Input files that cannot be found or listed."""


class LoadError(SparkifyError):
    """Input that cannot be loaded into staging (bad JSON, bad value, bad JSONPaths)."""


class CompressedInput(LoadError):
    """A file read as plain JSON that starts like a gzip, bzip2 or zstd file; ``with_key`` names the
    setting that would load it."""

    def __init__(self, name: str, kind: str, key: str | None = None):
        self.name, self.kind, self.key = name, kind, key
        how = f"set {key} = {kind} to load it" if key else f"set the prefix's ..._COMPRESSION key to {kind}"
        super().__init__(f"{name}, line 1: the file looks {kind}-compressed: {how}")

    def with_key(self, key: str) -> "CompressedInput":
        return CompressedInput(self.name, self.kind, key)


class AwsError(SparkifyError):
    """An AWS call failed, or a resource is not the project's to touch."""


class ConnectionFailed(SparkifyError):
    """The database cannot be reached or refuses the login."""


class QualityCheckError(SparkifyError):
    """A data-quality check failed after the transform; the run was rolled back."""


class DatabaseError(SparkifyError):
    """A statement failed on the server; the run was rolled back."""


class StepFailed(DatabaseError):
    """A step's statement failed. Whoever owns the transaction rolls it back, then asks the step for
    what else to say (``details(conn)``, which may read in a transaction of its own), and raises the
    whole as a DatabaseError (``sparkify.transaction.failure``)."""

    def __init__(self, message: str, details: Callable[[Any], str]):
        super().__init__(message)
        self.details = details


class NotConfirmed(SparkifyError):
    """A destructive or overwriting step was not confirmed."""


class InputProblems(SparkifyError):
    """etl.py --validate found problems in the input (nothing was changed)."""


def missing_tables(exc) -> str:
    """A hint for a server error that says a table does not exist (SQLSTATE 42P01), else "". Either
    no table was made yet, or the schema was made by an earlier version that had fewer (no
    ``load_ledger`` before daily loads): create_tables.py makes them all."""
    if getattr(exc, "pgcode", None) == "42P01":
        return (": the project's tables are not all there (never created, or created by an earlier version):"
                " run create_tables.py first")
    return ""


def first_line(exc) -> str:
    """The first line of a psycopg2 error's primary message (its text where the server sent none)."""
    diag = getattr(exc, "diag", None)
    text = ((diag.message_primary if diag is not None else None) or str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def whole_message(exc) -> str:
    """A psycopg2 error's whole primary message on one line, whatever line breaks libpq wrote."""
    diag = getattr(exc, "diag", None)
    return " ".join(((diag.message_primary if diag is not None else None) or str(exc)).split())


def connection_reason(exc) -> str:
    """Why libpq could not connect: its message's lines joined with "; " (it sends no diagnostics)."""
    return "; ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip())
