"""tests/mutate.py stays runnable as the code changes: the hand-written mutations still apply, the SQL
generator still finds the statements, and CONTRIBUTING.md's table is the hand-written list."""

import ast
import re

import pytest

import hand_mutants
import mutation_triage
import sql_mutants
from conftest import ROOT


@pytest.mark.parametrize("mutation", hand_mutants.MUTATIONS, ids=lambda mutation: mutation.name)
def test_each_mutation_still_applies_to_the_code(mutation):
    text = (ROOT / mutation.path).read_text()
    assert [old for old, _ in mutation.edits if text.count(old) != 1] == []  # each edit finds its one place
    assert all(old != new for old, new in mutation.edits)
    assert mutation.tests and [test for test in mutation.tests if not (ROOT / test.split("::")[0]).is_file()] == []


def test_the_table_in_contributing_is_the_list_with_every_scored_mutation_killed():
    section = (ROOT / "CONTRIBUTING.md").read_text().split("## Mutation testing", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| `([^`]+)` \| (.+?) \| (killed|equivalent: .+) \|$", section, re.MULTILINE)
    assert [(int(number), path, name) for number, path, name, _ in rows] == [
        (number, mutation.path, mutation.name) for number, mutation in enumerate(hand_mutants.MUTATIONS, 1)]
    assert [result.startswith("equivalent") for *_, result in rows] == [
        bool(mutation.equivalent) for mutation in hand_mutants.MUTATIONS]
    assert len({mutation.name for mutation in hand_mutants.MUTATIONS}) == len(hand_mutants.MUTATIONS) >= 30


def test_the_sql_generator_makes_each_kind_of_mutant_and_each_stays_valid_python():
    found = sql_mutants.mutants()
    kinds = {mutant.name.split(": ", 1)[1].rsplit(" #", 1)[0] for mutant in found}
    assert {"ASC->DESC", "DESC->ASC", "NULLS LAST->NULLS FIRST", "AND->OR", "OR->AND", "IS NULL->IS NOT NULL",
            "IS NOT NULL->IS NULL", "MAX->MIN", "DISTINCT removed", "<>->=", "=-><>", ">->>=", "<=-><",
            "AND conjunct dropped", "first conjunct dropped"} <= kinds
    assert len({mutant.name for mutant in found}) == len(found)
    for mutant in found:
        text = (ROOT / mutant.path).read_text()
        mutated = mutant.apply(text)
        assert mutated != text
        ast.parse(mutated)  # a mutant changes SQL, never the Python around it


def test_the_sql_generator_drops_a_conjunct_and_keeps_the_rest():
    names = {mutant.name: mutant for mutant in sql_mutants.mutants()}
    text = (ROOT / "sparkify/queries/transform.py").read_text()
    dropped = names["transform.IS_PLAY: AND conjunct dropped #1"]
    assert text[dropped.start:dropped.end] == "AND {0}.user_id <> ''"
    first = names["transform._BEST_SONG: first conjunct dropped #1"]
    assert text[first.start:first.end] == "s.title = k.song AND "
    assert "ON s.artist_name = k.artist" in first.apply(text)


def test_every_equivalent_mutant_is_one_the_generators_make_and_says_why():
    generated = {mutant.name for mutant in sql_mutants.mutants()}
    assert [name for name in sql_mutants.EQUIVALENT if name not in generated] == []
    assert all(reason.strip() for reason in sql_mutants.EQUIVALENT.values())
    assert all(reason.strip() for reason in mutation_triage.EQUIVALENT.values())
