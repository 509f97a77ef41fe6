"""The docs are true: every key in dwh.cfg.example is read, every flag and command is in the README."""

import configparser
import re
import subprocess
import sys

import pytest

from conftest import ROOT
from sparkify.config import load_config

README = (ROOT / "README.md").read_text()


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
    for flag in flags:
        assert flag in README, (script, flag)


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    command = re.search(r"<!-- test-command -->\n```sh\n(.+?)\n```", README).group(1)
    assert command in ci
