"""SQL mutants, generated mechanically from the statements the project sends.

Every string in ``sparkify/queries`` (the statements ``sql_queries.py`` re-exports) that is not a
docstring is SQL, or a fragment of it. Each rule below rewrites one occurrence of what it matches
in one such string; each rewrite is a mutant:

    ASC <-> DESC, NULLS FIRST <-> NULLS LAST, AND <-> OR, < <= > >= turned into each other,
    = <-> <>, IS NULL <-> IS NOT NULL, MAX <-> MIN, DISTINCT removed,
    one conjunct of a WHERE / ON / WHEN condition dropped.

A mutant is named by the statement it changes (its module and the module-level name the string is
assigned to), the rule and the occurrence, e.g. ``transform.USER_TABLE_INSERT: AND->OR #2``.
tests/mutate.py applies each to a copy of the checkout and runs the tests that guard the SQL of its
module (``TESTS``, cheapest first, stopping at the first failure), and prints the score;
``EQUIVALENT`` holds each mutant that cannot change a result, with the reason.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = "sparkify/queries"

# The tests that guard each module's statements, cheapest first: the first failure kills a mutant.
_TRANSFORM = ("tests/test_transform_rules.py", "tests/test_edge_rules.py", "tests/test_pipeline.py",
              "tests/test_incremental.py", "tests/test_engines_agree.py", "tests/test_redshift_standin.py")
TESTS = {
    "analytics": ("tests/test_analytics.py",),
    "checks": ("tests/test_quality_checks.py", "tests/test_pipeline.py", "tests/test_redshift_standin.py"),
    "copy": ("tests/test_redshift_sql.py", "tests/test_bad_input.py", "tests/test_loader.py",
             "tests/test_redshift_standin.py"),
    "ddl": ("tests/test_redshift_sql.py", "tests/test_engines_agree.py", "tests/test_quality_checks.py",
            "tests/test_cli.py"),
    "dialect": ("tests/test_redshift_sql.py", "tests/test_engines_agree.py", "tests/test_quality_checks.py",
                "tests/test_cli.py", "tests/test_incremental.py"),
    "ledger": ("tests/test_redshift_sql.py", "tests/test_incremental.py", "tests/test_redshift_standin.py"),
    "redshift_views": ("tests/test_redshift_sql.py", "tests/test_redshift_standin.py"),
    "schema": ("tests/test_redshift_sql.py", "tests/test_engines_agree.py"),
    "transform": _TRANSFORM,
}

_SWAPS = [
    ("ASC->DESC", r"\bASC\b", "DESC"), ("DESC->ASC", r"\bDESC\b", "ASC"),
    ("NULLS LAST->NULLS FIRST", r"\bNULLS LAST\b", "NULLS FIRST"),
    ("NULLS FIRST->NULLS LAST", r"\bNULLS FIRST\b", "NULLS LAST"),
    ("AND->OR", r"\bAND\b", "OR"), ("OR->AND", r"\bOR\b", "AND"),
    ("IS NULL->IS NOT NULL", r"\bIS NULL\b", "IS NOT NULL"), ("IS NOT NULL->IS NULL", r"\bIS NOT NULL\b", "IS NULL"),
    ("MAX->MIN", r"\bMAX\(", "MIN("), ("MIN->MAX", r"\bMIN\(", "MAX("),
    ("DISTINCT removed", r"\bDISTINCT\s+", ""),
    ("<>->=", r"<>", "="), ("=-><>", r"(?<![<>!=])=(?![=>])", "<>"),
]
# each comparison into each of the others
_COMPARISONS = ["<", "<=", ">", ">="]
_COMPARISON = r"<=|>=|(?<![<>-])<(?![=>])|(?<![<>=-])>(?!=)"
# what ends a conjunct at its own depth of parentheses
_SEAM = re.compile(r'"\s*"')
_CONJUNCT_END = re.compile(r"\b(AND|OR|THEN|WHERE|GROUP|ORDER|JOIN|LEFT|FROM|UNION|LIMIT|ON|WHEN|ELSE|END)\b")


def tests_for(mutant) -> tuple[str, ...]:
    return TESTS[mutant.path.rsplit("/", 1)[-1].removesuffix(".py")]


@dataclass(frozen=True)
class SqlMutant:
    name: str  # "<module>.<STATEMENT>: <rule> #<occurrence>"
    path: str  # the file, from the checkout's root
    line: int
    start: int  # offsets in the file's text
    end: int
    new: str

    def apply(self, text: str) -> str:
        return text[:self.start] + self.new + text[self.end:]


def _sql_strings(text: str):
    """(statement name, start offset, end offset) of every string literal that is not a docstring,
    in the order they appear; the name is the module-level assignment (or function) holding it."""
    tree = ast.parse(text)
    line_starts = [0]
    for line in text.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for top in tree.body:
        if isinstance(top, (ast.Assign, ast.AnnAssign)):
            target = top.targets[0] if isinstance(top, ast.Assign) else top.target
            owner = target.id if isinstance(target, ast.Name) else ast.unparse(target)
        elif isinstance(top, (ast.FunctionDef, ast.ClassDef)):
            owner = top.name
        else:
            continue
        for node in ast.walk(top):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                start = line_starts[node.lineno - 1] + node.col_offset
                end = line_starts[node.end_lineno - 1] + node.end_col_offset
                yield owner, node.lineno, start, end


def _conjunct_after(text: str, at: int) -> int:
    """Where the condition starting at ``at`` ends: the next keyword or ')' at its own depth, or the
    end of the string (``text`` is a literal's source, quotes included)."""
    depth = 0
    position = at
    stop = len(text) - (3 if text.endswith(('"""', "'''")) else 1)
    while position < stop:
        char = text[position]
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                return position
            depth -= 1
        elif depth == 0:
            found = _CONJUNCT_END.match(text, position)
            if found and position > at and not text[position - 1].isalnum() and text[position - 1] != "_":
                return position
        position += 1
    return stop


def _rewrites(literal: str):
    """(rule, start, end, replacement) within one string literal's source text."""
    for rule, pattern, new in _SWAPS:
        for found in re.finditer(pattern, literal):
            yield rule, found.start(), found.end(), new
    for found in re.finditer(_COMPARISON, literal):
        for other in _COMPARISONS:
            if other != found.group():
                yield f"{found.group()}->{other}", found.start(), found.end(), other
    for found in re.finditer(r"\bAND\s+", literal):  # drop "AND <conjunct>"
        end = _conjunct_after(literal, found.end())
        yield "AND conjunct dropped", found.start(), end, ""
    for found in re.finditer(r"\b(WHERE|ON|WHEN)\s+", literal):  # drop the first conjunct and its AND
        end = _conjunct_after(literal, found.end())
        following = re.match(r"\s*AND\s+", literal[end:])
        if following:
            yield "first conjunct dropped", found.end(), end + following.end(), ""


def mutants(root: Path = ROOT) -> list[SqlMutant]:
    found: list[SqlMutant] = []
    for path in sorted((root / SOURCES).glob("*.py")):
        found += _mutants_of(path.relative_to(root).as_posix(), path.read_text())
    return found


def _mutants_of(path: str, text: str) -> list[SqlMutant]:
    found: list[SqlMutant] = []
    counts: dict[tuple[str, str], int] = {}
    module = path.rsplit("/", 1)[-1].removesuffix(".py")
    for owner, line, start, end in _sql_strings(text):
        literal = text[start:end]
        for rule, offset, stop, new in _rewrites(literal):
            if not new:  # what is dropped may span implicitly concatenated pieces: keep their seams
                new = "".join(_SEAM.findall(literal, offset, stop))
            if literal[offset:stop] == new:
                continue
            number = counts[owner, rule] = counts.get((owner, rule), 0) + 1
            found.append(SqlMutant(f"{module}.{owner}: {rule} #{number}", path, line + literal.count("\n", 0, offset),
                                   start + offset, start + stop, new))
    return found


# Mutants that cannot change any result, each with the reason.
EQUIVALENT: dict[str, str] = {
    "redshift_views.LOAD_ERROR_VIEW_PROBE: =-><> #1":
        "the probe asks only whether STL_LOAD_ERRORS can be read; the count it returns is never used",
    "transform.LATE_MATCHES: DISTINCT removed #1":
        "_BEST_SONG keeps one row per (song, artist, length) by its ROW_NUMBER, so a key given twice changes nothing",
}
