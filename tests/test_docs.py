"""The docs are true: every key in dwh.cfg.example is read, every flag and command is in the README."""

import configparser
import re
import subprocess
import sys

import pytest

from conftest import ROOT
from sparkify.config import load_config

README = (ROOT / "README.md").read_text()
DOCS = {path.relative_to(ROOT).as_posix(): path.read_text()
        for path in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md",
                     *sorted((ROOT / "docs").glob("*.md"))]}


# another valid value for every key of dwh.cfg.example
OTHER_VALUES = {
    "HOST": "other.example.com", "DB_NAME": "other", "DB_USER": "other", "DB_PASSWORD": "other", "DB_PORT": "5440",
    "ENGINE": "postgres", "SCHEMA": "other", "SSLMODE": "disable", "SSLROOTCERT": "ca.pem",
    "ARN": "arn:aws:iam::123456789012:role/other", "LOG_DATA": "'s3://other/log_data'",
    "LOG_JSONPATH": "'s3://other/paths.json'", "SONG_DATA": "'s3://other/song_data'", "SONG_JSON": "auto ignorecase",
    "REGION": "eu-west-1", "MAX_ERRORS": "3", "UNSIGNED": "true", "LOG_COMPRESSION": "gzip",
    "SONG_COMPRESSION": "zstd",
}


def test_every_example_key_is_read_by_the_code(tmp_path):
    """The example loads; and changing any one of its keys changes the loaded config."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "dwh.cfg.example")
    keys = [(section, key.upper()) for section in parser.sections() for key in parser[section]]
    assert sorted(key for _, key in keys) == sorted(OTHER_VALUES)
    (tmp_path / "ca.pem").write_text("")
    text = (ROOT / "dwh.cfg.example").read_text()
    example = tmp_path / "dwh.cfg"
    example.write_text(text)
    base = load_config(example, environ={})
    assert (base.cluster.host, base.cluster.port, base.sources.region, base.sources.log_compression) == (
        "dwhcluster.abc123xyz.us-west-2.redshift.amazonaws.com", 5439, "us-west-2", "none")
    for section, key in keys:
        line = next(line for line in text.splitlines() if line.startswith(f"{key}="))
        example.write_text(text.replace(line + "\n", f"{key}={OTHER_VALUES[key]}\n", 1))
        assert load_config(example, environ={}) != base, (section, key)


@pytest.mark.parametrize("script", ["create_tables.py", "etl.py", "cleanup.py", "analytics.py", "provision.py"])
def test_every_flag_is_in_the_readme(script):
    help_text = subprocess.run([sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True).stdout
    flags = set(re.findall(r"(--[a-z][a-z-]+)", help_text)) - {"--help"}
    assert flags
    everything = "\n".join(DOCS.values())
    for flag in flags:
        # the scripts the analysts run have every flag in the README; provision.py's are in docs/redshift.md
        assert flag in (everything if script == "provision.py" else README), (script, flag)


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    command = re.search(r"<!-- test-command -->\n```sh\n(.+?)\n```", README).group(1)
    assert command in ci


def test_the_docs_the_readme_sends_readers_to_are_there():
    assert {"docs/redshift.md", "docs/input-rules.md", "docs/performance.md", "docs/postgresql.md", "CHANGELOG.md",
            "CONTRIBUTING.md"} <= set(DOCS)


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_relative_link_leads_to_a_file(name):
    """Links between the README, docs/ and CONTRIBUTING.md, and to the code, name files that exist."""
    base = (ROOT / name).parent
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", DOCS[name])
    local = [target for target in targets if "://" not in target]
    assert local or name == "CHANGELOG.md"
    assert [target for target in local if not (base / target).exists()] == []


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_script_and_module_a_doc_names_exists(name):
    """A path in backquotes (`sparkify/loader/reader.py`, `bench/run.py`) names a file that exists."""
    paths = set(re.findall(r"`((?:sparkify|bench|tests|img|docs)/[\w./-]+\.(?:py|md|png|dot))`", DOCS[name]))
    assert [path for path in sorted(paths) if not (ROOT / path).exists()] == []


def test_the_readmes_staging_columns_are_the_tables():
    import sql_queries as q

    listed = re.search(r"`staging_events` in the JSONPaths order:\s*`([^`]+)`; `staging_songs`:\s*`([^`]+)`",
                       README)
    assert [names.replace("\n", " ").split(", ") for names in listed.groups()] == [
        list(q.STAGING_EVENTS.column_names), list(q.STAGING_SONGS.column_names)]
