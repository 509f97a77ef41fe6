"""tests/mutate.py stays runnable as the code changes, and CONTRIBUTING.md's table is its list."""

import re

import pytest

import mutate
from conftest import ROOT


@pytest.mark.parametrize("mutation", mutate.MUTATIONS, ids=lambda mutation: mutation.name)
def test_each_mutation_still_applies_to_the_code(mutation):
    text = (ROOT / mutation.path).read_text()
    assert [old for old, _ in mutation.edits if text.count(old) != 1] == []  # each edit finds its one place
    assert all(old != new for old, new in mutation.edits)
    assert mutation.tests and [test for test in mutation.tests if not (ROOT / test.split("::")[0]).is_file()] == []


def test_the_table_in_contributing_is_the_list_with_every_scored_mutation_killed():
    section = (ROOT / "CONTRIBUTING.md").read_text().split("## Mutation testing", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| `([^`]+)` \| (.+?) \| (killed|equivalent: .+) \|$", section, re.MULTILINE)
    assert [(int(number), path, name) for number, path, name, _ in rows] == [
        (number, mutation.path, mutation.name) for number, mutation in enumerate(mutate.MUTATIONS, 1)]
    assert [result.startswith("equivalent") for *_, result in rows] == [
        bool(mutation.equivalent) for mutation in mutate.MUTATIONS]
    assert len({mutation.name for mutation in mutate.MUTATIONS}) == len(mutate.MUTATIONS) >= 30
