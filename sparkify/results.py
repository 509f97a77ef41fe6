"""What the steps of a run produce: load results, rejected records, validations, the run report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LoadResult:
    table: str
    files: int
    rows: int
    seconds: float
    parsed: int = 0
    rejected: int = 0
    # (file, parsed, loaded, rejected) of every file that had a rejected record
    files_with_rejections: tuple = ()
    file_rows: tuple[int, ...] = ()  # the rows each file gave, in load order


@dataclass(frozen=True)
class Rejection:
    """One record a load refused, on either engine."""

    file: str
    line: int | None
    reason: str
    column: str | None = None
    value: str | None = None

    def describe(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line is not None else self.file
        column = f", column {self.column}" if self.column else ""
        value = f", value {self.value!r}" if self.value is not None else ""
        return f"{where}{column}{value}: {self.reason}"


@dataclass(frozen=True)
class Validation:
    """What ``etl.py --validate`` found in one table's input: nothing is loaded."""

    table: str
    files: int | None  # None: not known (Redshift checked the files)
    records: int | None
    problems: int
    first: tuple[Rejection, ...]


@dataclass(frozen=True)
class LoadErrors:
    """What a Redshift COPY rejected, from its system view: how many, the first few."""

    total: int
    first: tuple[Rejection, ...]
    view: str


@dataclass(frozen=True)
class StepResult:
    step: Any  # the sparkify.steps step that gave it (results never import steps)
    rows: int
    seconds: float
    load: LoadResult | None = None
    matched: int | None = None  # of a step that counts the plays: those that matched a song
    fetched: tuple | None = None  # of a step that reads rows for the run (the ledger's): those rows


@dataclass
class Report:
    results: list[StepResult] = field(default_factory=list)
    batch: Any = None  # the run's sparkify.ledger.Batch: which files were new

    @property
    def plays(self) -> int:
        """The plays in songplays at the end of the run (0: not counted)."""
        return next((result.rows for result in self.results if result.step.counts_plays), 0)

    @property
    def repeated_events(self) -> int:
        """The NextSong events of the run that were not new plays (copies, or played before)."""
        return sum(result.rows for result in self.results if result.step.counts_repeats)

    @property
    def matched_plays(self) -> int:
        return next((result.matched for result in self.results if result.step.counts_plays), 0)

    @property
    def checks(self) -> list[StepResult]:
        return [result for result in self.results if result.step.is_check]

    @property
    def failed_checks(self) -> list[StepResult]:
        return [result for result in self.checks if result.rows != 0]
