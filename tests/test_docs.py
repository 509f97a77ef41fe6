"""The docs are true: every key in dwh.cfg.example is read, every flag and command is in the README."""

import configparser
import re
import subprocess
import sys

import pytest

from conftest import ROOT
from sparkify.config import load_config

README = (ROOT / "README.md").read_text()


def test_every_example_key_is_read_by_the_code(tmp_path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "dwh.cfg.example")
    source = (ROOT / "sparkify" / "config.py").read_text()
    keys = [(section, key.upper()) for section in parser.sections() for key in parser[section]]
    assert len(keys) == 17
    for section, key in keys:
        assert f'"{key}"' in source, (section, key)
    example = tmp_path / "dwh.cfg"
    example.write_text((ROOT / "dwh.cfg.example").read_text().replace("SCHEMA=\n", "SCHEMA=sparkify\n"))
    config = load_config(example, environ={})
    assert config.cluster.schema == "sparkify" and config.sources.region == "us-west-2"


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
