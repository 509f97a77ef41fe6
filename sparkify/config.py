"""Read and validate ``dwh.cfg`` once, at start-up.

The file keeps the classic Udacity format (``[CLUSTER]``, ``[IAM_ROLE]``, ``[S3]``) so an existing
file works unchanged; values may be quoted (``LOG_DATA='s3://udacity-dend/log_data'``). Every value
that can reach SQL is checked against a strict pattern here, so later code can compose it with
``psycopg2.sql.Literal`` knowing it is a plain S3 URI, role ARN, region or identifier.

No file, no ``[CLUSTER]`` section or an empty ``HOST``: the embedded PostgreSQL and the sample data
shipped in the repository. The sample belongs to the embedded default only: a file that names a
server must name the data too, or nothing runs.

Section names are upper case, as in the classic format (``[cluster]`` is an error that says so);
keys are case-insensitive. An unknown section or key is an error naming the closest known one, so a
misspelt ``[CLUSTR]`` can never mean "the embedded default" by accident.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import sql_queries as q

from . import SAMPLE_DIR, compression, ini
from .course import Provisioning, read_credentials, read_dwh
from .errors import ConfigError
from .source import S3Access, Source, TableInput

PASSWORD_ENV = "SPARKIFY_DB_PASSWORD"
DEFAULT_PATH = "dwh.cfg"  # read when there is no --config; absent, it means the embedded default
ENGINES = ("auto", *q.ENGINES)
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
SONG_JSON_FORMATS = ("auto", "auto ignorecase")
BOOLEANS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}

S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[A-Za-z0-9!_.*()/=+\-]*)?")
ROLE_ARN = re.compile(r"arn:aws[a-z\-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/\-]{1,512}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
HOSTNAME = re.compile(r"[A-Za-z0-9.\-:]{1,253}|/[^\x00-\x1f'\"\\;]{1,200}")
DBNAME = re.compile(r"[A-Za-z0-9_\-]{1,127}")

# Values that reach SQL are composed as literals or identifiers, where these are harmless; they are
# refused all the same, so that no config value can even look like it comments a statement out.
SQL_COMMENT_MARKERS = ("--", "/*", "*/")

# provision.py's settings as the course's infrastructure notebook writes them ([DWH])
DWH_KEYS = ("DWH_CLUSTER_TYPE", "DWH_NUM_NODES", "DWH_NODE_TYPE", "DWH_IAM_ROLE_NAME", "DWH_CLUSTER_IDENTIFIER",
            "DWH_DB", "DWH_DB_USER", "DWH_DB_PASSWORD", "DWH_PORT")
AWS_RESOURCE_KEYS = ("REGION", "CLUSTER_ID", "ROLE_NAME", "SECURITY_GROUP_ID")  # what provision.py created

# Every section and key the scripts read: the classic three, [AWS] (the client's S3 credentials as
# the course writes them, and what provision.py created) and [DWH] (provision.py's settings).
KNOWN_KEYS = {
    "CLUSTER": ("HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "ENGINE", "SCHEMA", "SSLMODE", "SSLROOTCERT"),
    "IAM_ROLE": ("ARN",),
    "S3": ("LOG_DATA", "LOG_JSONPATH", "SONG_DATA", "SONG_JSON", "REGION", "MAX_ERRORS", "UNSIGNED",
           "LOG_COMPRESSION", "SONG_COMPRESSION", "MANIFEST_PREFIX"),
    "AWS": ("KEY", "SECRET") + AWS_RESOURCE_KEYS,
    "DWH": DWH_KEYS,
}
# what a server's warehouse is loaded from: there is no default for these once [CLUSTER] names one
SOURCE_KEYS = ("LOG_DATA", "LOG_JSONPATH", "SONG_DATA")

DEFAULT_SOURCES = {
    "LOG_DATA": str(SAMPLE_DIR / "log_data"),
    "LOG_JSONPATH": str(SAMPLE_DIR / "log_json_path.json"),
    "SONG_DATA": str(SAMPLE_DIR / "song_data"),
}


@dataclass(frozen=True)
class Cluster:
    """Where the warehouse lives when it is not the embedded default."""

    host: str
    port: int
    dbname: str
    user: str
    password: str = field(repr=False)
    engine: str = "auto"
    sslmode: str | None = None
    schema: str | None = None
    sslrootcert: str | None = None  # CA bundle for sslmode verify-ca / verify-full

    @property
    def serverless(self) -> bool:
        """Redshift Serverless (a workgroup endpoint): no STL system tables there."""
        return self.host.endswith(q.REDSHIFT.serverless_host_suffix)

    def describe(self) -> str:
        """Host, port, database, user and schema: never the password."""
        schema = f" schema {self.schema}" if self.schema else ""
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}{schema}"


@dataclass(frozen=True)
class Sources:
    """The raw JSON: S3 URIs, or local folders/files (prefix match, as Redshift COPY does)."""

    log_data: str
    log_jsonpath: str
    song_data: str
    song_json: str = "auto"
    region: str | None = None
    max_errors: int = 0
    unsigned: bool = False
    log_compression: str = "none"  # how the files are stored: none, gzip, bzip2, zstd
    song_compression: str = "none"
    manifest_prefix: str | None = None  # Redshift: where a daily run's COPY manifests are written (s3://...)
    key: str | None = field(default=None, repr=False)  # [AWS] KEY and SECRET: the client's S3 credentials
    secret: str | None = field(default=None, repr=False)

    @property
    def access(self) -> S3Access:
        return S3Access(self.region, self.unsigned, self.key, self.secret)

    @property
    def events(self) -> TableInput:
        """What staging_events is loaded from, each location with the key that set it."""
        data = Source(self.log_data, "[S3] LOG_DATA", self.access, self.log_compression, "[S3] LOG_COMPRESSION")
        paths = Source(self.log_jsonpath, "[S3] LOG_JSONPATH", self.access)
        return TableInput(q.STAGING_EVENTS, data, self.log_jsonpath, paths, self.max_errors)

    @property
    def songs(self) -> TableInput:
        """What staging_songs is loaded from (``auto``: no JSONPaths file)."""
        data = Source(self.song_data, "[S3] SONG_DATA", self.access, self.song_compression, "[S3] SONG_COMPRESSION")
        return TableInput(q.STAGING_SONGS, data, self.song_json, None, self.max_errors)

    @property
    def inputs(self) -> tuple[TableInput, TableInput]:
        return self.events, self.songs

    @property
    def is_sample(self) -> bool:
        return self.log_data == DEFAULT_SOURCES["LOG_DATA"] and self.song_data == DEFAULT_SOURCES["SONG_DATA"]


@dataclass(frozen=True)
class AwsResources:
    """What provision.py created (its ``[AWS]`` section), so cleanup.py can remove exactly that."""

    region: str
    cluster_id: str | None = None
    role_name: str | None = None
    security_group_id: str | None = None


@dataclass(frozen=True)
class Config:
    path: Path
    cluster: Cluster | None
    iam_role_arn: str | None
    sources: Sources
    aws: AwsResources | None = None
    provisioning: Provisioning = Provisioning()

    @property
    def embedded(self) -> bool:
        return self.cluster is None


class _Reader:
    """Fetches values from one parsed file, naming file, section and key in every error."""

    def __init__(self, path: Path, parser: configparser.ConfigParser):
        self.path = path
        self.parser = parser

    def error(self, section: str, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: [{section}] {key} {problem}")

    def get(self, section: str, key: str, default: str | None = None) -> str | None:
        if not self.parser.has_option(section, key):
            return default
        return _unquote(self.parser.get(section, key))

    def require(self, section: str, key: str) -> str:
        value = self.get(section, key)
        if value is None or value == "":
            raise self.error(section, key, "is missing: set it (see dwh.cfg.example)")
        return value

    def choice(self, section: str, key: str, allowed: tuple[str, ...], default: str | None) -> str | None:
        value = self.get(section, key, default)
        if value in (None, "") and default is None:
            return None
        value = (value or default or "").lower()
        if value not in allowed:
            raise self.error(section, key, f"must be one of {', '.join(allowed)}, not {value!r}")
        return value

    def flag(self, section: str, key: str) -> bool:
        value = (self.get(section, key) or "false").lower()
        if value not in BOOLEANS:
            raise self.error(section, key, f"must be true or false, not {value!r}")
        return BOOLEANS[value]

    def matching(self, section: str, key: str, value: str, pattern: re.Pattern, what: str,
                 comments_allowed: bool = False) -> str:
        if not pattern.fullmatch(value):
            raise self.error(section, key, f"is not a valid {what}: {value!r}")
        if not comments_allowed and any(marker in value for marker in SQL_COMMENT_MARKERS):
            raise self.error(section, key, f"must not contain an SQL comment marker (--, /*, */): {value!r}")
        return value


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value


def load_config(path: str | os.PathLike | None = None, environ: dict | None = None, *,
                required: bool = False) -> Config:
    """Parse and validate the config file; a missing file means the embedded default, unless
    ``required`` (a file the user named: ``--config PATH``), where it is an error.

    Raises ConfigError naming file, section and key for any missing or malformed value.
    """
    environ = os.environ if environ is None else environ
    path = Path(path if path is not None else DEFAULT_PATH)
    parser = configparser.ConfigParser(interpolation=None, default_section="\x00none")
    parser.optionxform = str.upper  # keys are case-insensitive, reported in upper case
    text = ""
    if required and not path.exists():
        raise ConfigError(f"{path}: no such file (--config names it; only a missing {DEFAULT_PATH}, with no --config,"
                          f" means the embedded default)")
    if path.exists():
        if not path.is_file():
            raise ConfigError(f"{path}: is not a regular file (a folder, a FIFO or a device): name the config file")
        text = ini.read_text(path)
        ini.check_continuations(path, text)
        try:
            parser.read_string(text, source=str(path))
        except configparser.Error as exc:
            raise ini.syntax_error(path, text, exc) from None
    ini.check_names(path, text, parser, KNOWN_KEYS)
    reader = _Reader(path, parser)
    base_dir = path.resolve().parent
    cluster = _read_cluster(reader, environ)
    if cluster is not None:
        _require_sources(reader, cluster)
    sources = _read_sources(reader, base_dir)
    arn = reader.get("IAM_ROLE", "ARN")
    if arn:
        reader.matching("IAM_ROLE", "ARN", arn, ROLE_ARN, "IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    return Config(path=path, cluster=cluster, iam_role_arn=arn or None, sources=sources, aws=_read_aws(reader),
                  provisioning=read_dwh(reader))


def _require_sources(reader: _Reader, cluster: Cluster) -> None:
    """A file that names a server names its data too: the shipped sample is the embedded default's."""
    missing = [key for key in SOURCE_KEYS if not reader.get("S3", key)]
    if missing:
        names = ", ".join(missing)
        raise ConfigError(f"{reader.path}: [S3] {names} {'is' if len(missing) == 1 else 'are'} missing: [CLUSTER] names"
                          f" {cluster.host}, and the shipped sample data is for the embedded default only; set"
                          f" {names} (see dwh.cfg.example)")


CLUSTER_ID = re.compile(r"[a-z](?!.*--)[a-z0-9\-]{0,61}[a-z0-9]|[a-z]")
ROLE_NAME = re.compile(r"[A-Za-z0-9+=,.@_\-]{1,64}")
SECURITY_GROUP_ID = re.compile(r"sg-[0-9a-f]{8,17}")


def _read_aws(reader: _Reader) -> AwsResources | None:
    """What provision.py created, where ``[AWS]`` names it (a section with only the course's KEY and
    SECRET names nothing to delete)."""
    section = "AWS"
    if not any(reader.get(section, key) for key in AWS_RESOURCE_KEYS):
        return None
    region = reader.matching(section, "REGION", reader.require(section, "REGION"), REGION,
                             "AWS region (like us-west-2)")
    values = {}
    for key, pattern, what in (("CLUSTER_ID", CLUSTER_ID, "Redshift cluster identifier"),
                               ("ROLE_NAME", ROLE_NAME, "IAM role name"),
                               ("SECURITY_GROUP_ID", SECURITY_GROUP_ID, "security group id (sg-...)")):
        value = reader.get(section, key) or None
        values[key.lower()] = value and reader.matching(section, key, value, pattern, what)
    return AwsResources(region=region, **values)


def _read_cluster(reader: _Reader, environ) -> Cluster | None:
    section = "CLUSTER"
    if not reader.parser.has_section(section) or not reader.get(section, "HOST"):
        return None
    host = reader.matching(section, "HOST", reader.require(section, "HOST"), HOSTNAME, "host name",
                           comments_allowed=True)  # reaches only the connection (xn--... is a valid name)
    port_text = reader.require(section, "DB_PORT")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise reader.error(section, "DB_PORT", f"must be a port number (1-65535), not {port_text!r}")
    dbname = reader.matching(section, "DB_NAME", reader.require(section, "DB_NAME"), DBNAME, "database name")
    user = reader.matching(section, "DB_USER", reader.require(section, "DB_USER"), DBNAME, "user name")
    password = environ.get(PASSWORD_ENV) or reader.get(section, "DB_PASSWORD") or ""
    if "\x00" in password:
        where = PASSWORD_ENV if environ.get(PASSWORD_ENV) else "DB_PASSWORD"
        raise reader.error(section, where, "contains a NUL character, which no server accepts")
    schema = reader.get(section, "SCHEMA") or None
    if schema is not None:
        reader.matching(section, "SCHEMA", schema, IDENTIFIER, "schema name (lower case letters, digits, _)")
    sslrootcert = reader.get(section, "SSLROOTCERT") or None
    if sslrootcert is not None:
        sslrootcert = str((reader.path.resolve().parent / sslrootcert).resolve())
        if not os.path.isfile(sslrootcert):
            raise reader.error(section, "SSLROOTCERT", f"names no file: {sslrootcert} (the CA bundle for verify-full;"
                                                       " Redshift's is linked from its SSL documentation)")
    return Cluster(
        sslrootcert=sslrootcert,
        host=host,
        port=int(port_text),
        dbname=dbname,
        user=user,
        password=password,
        engine=reader.choice(section, "ENGINE", ENGINES, "auto"),
        sslmode=reader.choice(section, "SSLMODE", SSLMODES, None),
        schema=schema,
    )


def _read_sources(reader: _Reader, base_dir: Path) -> Sources:
    section = "S3"
    values = {}
    for key, default in DEFAULT_SOURCES.items():
        value = reader.get(section, key) or default
        if value.startswith("s3://"):
            reader.matching(section, key, value, S3_URI, "S3 URI (s3://bucket/prefix, no quotes or spaces)")
        elif "\x00" in value:
            raise reader.error(section, key, "contains a NUL character")
        elif value is not default and not os.path.isabs(value):
            # relative to the config file; a trailing "/" is kept, it narrows the prefix match
            value = str((base_dir / value).resolve()) + ("/" if value.endswith("/") else "")
        values[key] = value
    region = reader.get(section, "REGION") or None
    if region is not None:
        reader.matching(section, "REGION", region, REGION, "AWS region (like us-west-2)")
    manifest_prefix = reader.get(section, "MANIFEST_PREFIX") or None
    if manifest_prefix is not None:
        reader.matching(section, "MANIFEST_PREFIX", manifest_prefix, S3_URI,
                        "S3 URI (s3://bucket/prefix/, where Redshift runs write their COPY manifests)")
    unsigned = reader.flag(section, "UNSIGNED")
    if unsigned and manifest_prefix is not None:
        raise reader.error(section, "UNSIGNED", "is true, and MANIFEST_PREFIX is set: a daily run on Redshift writes"
                                                " its manifests there, which an unsigned request may not (set"
                                                " UNSIGNED=false and give the client credentials)")
    key, secret = read_credentials(reader)
    max_errors = reader.get(section, "MAX_ERRORS") or "0"
    if not max_errors.isdigit():
        raise reader.error(section, "MAX_ERRORS", f"must be a whole number (0 or more), not {max_errors!r}")
    return Sources(
        max_errors=int(max_errors),
        log_data=values["LOG_DATA"],
        log_jsonpath=values["LOG_JSONPATH"],
        song_data=values["SONG_DATA"],
        song_json=reader.choice(section, "SONG_JSON", SONG_JSON_FORMATS, "auto"),
        region=region,
        unsigned=unsigned,
        key=key,
        secret=secret,
        log_compression=reader.choice(section, "LOG_COMPRESSION", compression.SETTINGS, compression.NONE),
        song_compression=reader.choice(section, "SONG_COMPRESSION", compression.SETTINGS, compression.NONE),
        manifest_prefix=manifest_prefix,
    )
