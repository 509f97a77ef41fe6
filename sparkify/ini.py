"""The INI file's shape, before any value is read: its text (UTF-8, a BOM skipped), a syntax error
shown by line (unless the line may hold the password), and every section and key checked against
those the scripts read, an unknown one naming the closest known one."""

from __future__ import annotations

import configparser
import difflib
import re
from pathlib import Path

from .errors import ConfigError


def read_text(path: Path) -> str:
    """The file's text; a UTF-8 BOM (Windows editors write one) is skipped."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: is not UTF-8 text (byte offset {exc.start}): save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def syntax_error(path: Path, text: str, exc: configparser.Error) -> ConfigError:
    """The line that breaks the INI syntax, by number, shown unless it may hold the password."""
    lines = text.splitlines()
    if isinstance(exc, configparser.ParsingError) and not isinstance(exc, configparser.MissingSectionHeaderError):
        number = exc.errors[0][0]
    else:
        number = getattr(exc, "lineno", None) or 1
    line = lines[number - 1] if 0 < number <= len(lines) else ""
    previous = next((earlier for earlier in reversed(lines[:number - 1]) if earlier.strip()), "")
    if "PASSWORD" in line.upper() or previous.strip().upper().startswith("DB_PASSWORD"):
        shown = "(not shown: it may hold the password)"
    else:
        shown = repr(line.strip())
    if isinstance(exc, configparser.DuplicateSectionError):
        why = f"section [{exc.section}] appears twice"
    elif isinstance(exc, configparser.DuplicateOptionError):
        why = f"key {exc.option} appears twice in [{exc.section}]"
    elif isinstance(exc, configparser.MissingSectionHeaderError):
        why = "a key before any [SECTION] header"
    else:
        why = "not a [SECTION] header, a KEY=value line or a # comment"
    return ConfigError(f"{path}, line {number}: cannot parse the file: {why}: {shown}")


def check_continuations(path: Path, text: str) -> None:
    """ConfigError for an indented line under a key: INI reads it as more of that key's value
    (``DB_PASSWORD=`` then an indented ``SCHEMA=x`` makes the password ``SCHEMA=x``), which is never
    what a dwh.cfg means."""
    key = None  # the key whose value an indented line would continue
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if line[0] in " \t" and key is not None:
            shown = "(not shown: it may hold the password)" if "PASSWORD" in key.upper() else repr(stripped)
            raise ConfigError(f"{path}, line {number}: this line is indented under {key}, so INI would read it as"
                              f" more of {key}'s value: write it at the start of the line if it is a setting of its"
                              f" own: {shown}")
        key = None if stripped.startswith("[") else re.split(r"[=:]", stripped, maxsplit=1)[0].strip()


def _line_of(text: str, pattern: str) -> int | None:
    match = re.search(pattern, text, re.MULTILINE | re.IGNORECASE)
    return text.count("\n", 0, match.start()) + 1 if match else None


def check_names(path: Path, text: str, parser: configparser.ConfigParser, known_keys: dict) -> None:
    """ConfigError for a section or key the scripts do not read, naming the closest known one."""
    for section in parser.sections():
        if section not in known_keys:
            number = _line_of(text, rf"^[ \t]*\[{re.escape(section)}\]")
            known = next((name for name in known_keys if name == section.upper()), None)
            known = known or next(iter(difflib.get_close_matches(section.upper(), known_keys, n=1, cutoff=0.6)), None)
            hint = f": did you mean [{known}]? (section names are upper case)" if known else (
                f": the sections are {', '.join(f'[{name}]' for name in known_keys)}")
            raise ConfigError(f"{path}, line {number}: unknown section [{section}]{hint}")
        for key in parser[section]:
            if key not in known_keys[section]:
                number = _line_of(text, rf"^[ \t]*{re.escape(key)}[ \t]*[=:]")
                close = difflib.get_close_matches(key, known_keys[section], n=1, cutoff=0.6)
                hint = f": did you mean {close[0]}?" if close else f": [{section}] has {', '.join(known_keys[section])}"
                raise ConfigError(f"{path}, line {number}: unknown key {key} in [{section}]{hint}")
