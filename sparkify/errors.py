"""Named exceptions. Each carries a one-line message that says what went wrong and what to do.

The scripts turn any of these into one line on stderr and a non-zero exit; anything else is a bug
and keeps its traceback.
"""


class SparkifyError(Exception):
    """Base class of every error a user can cause and fix."""

    exit_code = 1


class ConfigError(SparkifyError):
    """A missing or malformed configuration value."""

    exit_code = 2


class DataSourceError(SparkifyError):
    """Input files that cannot be found or listed."""


class LoadError(SparkifyError):
    """Input that cannot be loaded into staging (bad JSON, bad value, bad JSONPaths)."""


class ConnectionFailed(SparkifyError):
    """The database cannot be reached or refuses the login."""


class QualityCheckError(SparkifyError):
    """A data-quality check failed after the transform; the run was rolled back."""


class DatabaseError(SparkifyError):
    """A statement failed on the server; the run was rolled back."""


class NotConfirmed(SparkifyError):
    """A destructive or overwriting step was not confirmed."""


class InputProblems(SparkifyError):
    """etl.py --validate found problems in the input (nothing was changed)."""
