"""dwh.cfg: the seed's format works unchanged; every bad value stops the run naming file, section, key."""

import pytest

from conftest import COURSE, SEED
from sparkify.config import DEFAULT_SOURCES, load_config
from sparkify.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "dwh.cfg"
    path.write_text(text)
    return path


def test_seed_format_with_quotes(tmp_path):
    config = load_config(write(tmp_path, SEED), environ={})
    assert (config.cluster.host, config.cluster.port, config.cluster.dbname, config.cluster.user) == (
        "dwhcluster.abc.us-west-2.redshift.amazonaws.com", 5439, "dwh", "dwhuser")
    assert config.cluster.password == "Secret 'pa%ss"
    assert config.iam_role_arn == "arn:aws:iam::123456789012:role/dwhRole"
    assert (config.sources.log_data, config.sources.log_jsonpath, config.sources.song_data) == (
        "s3://udacity-dend/log_data", "s3://udacity-dend/log_json_path.json", "s3://udacity-dend/song_data")
    assert "Secret" not in repr(config)


def test_only_matching_quotes_are_taken_off(tmp_path):
    config = load_config(write(tmp_path, SEED.replace("DB_PASSWORD='Secret 'pa%ss'", "DB_PASSWORD='half\"")),
                         environ={})
    assert config.cluster.password == "'half\""
    config = load_config(write(tmp_path, SEED.replace("DB_PASSWORD='Secret 'pa%ss'", 'DB_PASSWORD="both"')),
                         environ={})
    assert config.cluster.password == "both"


def test_compression_settings(tmp_path):
    config = load_config(write(tmp_path, SEED + "LOG_COMPRESSION=gzip\nSONG_COMPRESSION=zstd\n"), environ={})
    assert (config.sources.log_compression, config.sources.song_compression) == ("gzip", "zstd")
    assert load_config(write(tmp_path, SEED), environ={}).sources.log_compression == "none"


def test_password_from_environment(tmp_path):
    config = load_config(write(tmp_path, SEED.replace("DB_PASSWORD='Secret 'pa%ss'", "DB_PASSWORD=")),
                         environ={"SPARKIFY_DB_PASSWORD": "from env"})
    assert config.cluster.password == "from env"


def test_no_file_means_embedded_and_sample(tmp_path):
    config = load_config(tmp_path / "dwh.cfg", environ={})
    assert config.embedded
    assert (config.sources.log_data, config.sources.song_data) == (DEFAULT_SOURCES["LOG_DATA"], DEFAULT_SOURCES["SONG_DATA"])


def test_empty_host_means_embedded(tmp_path):
    assert load_config(write(tmp_path, "[CLUSTER]\nHOST=''\nDB_PORT=5439\n"), environ={}).embedded


def test_relative_local_paths_are_relative_to_the_file(tmp_path):
    config = load_config(write(tmp_path, "[S3]\nLOG_DATA=data/log_data/\nSONG_DATA=data/song\n"), environ={})
    assert config.sources.log_data == f"{tmp_path}/data/log_data/"
    assert config.sources.song_data == f"{tmp_path}/data/song"


@pytest.mark.parametrize("change, message", [
    (("DB_PORT=5439", "DB_PORT=port"), "[CLUSTER] DB_PORT must be a port number (1-65535), not 'port'"),
    (("DB_PORT=5439\n", ""), "[CLUSTER] DB_PORT is missing: set it (see dwh.cfg.example)"),
    (("DB_PORT=5439", "DB_PORT=65536"), "[CLUSTER] DB_PORT must be a port number (1-65535), not '65536'"),
    (("DB_PORT=5439", "DB_PORT=0"), "[CLUSTER] DB_PORT must be a port number (1-65535), not '0'"),
    (("[S3]\n", "[S3]\nLOG_COMPRESSION=zip\n"),
     "[S3] LOG_COMPRESSION must be one of none, gzip, bzip2, zstd, not 'zip'"),
    (("DB_NAME='dwh'", "DB_NAME=''"), "[CLUSTER] DB_NAME is missing: set it (see dwh.cfg.example)"),
    (("DB_USER='dwhuser'", "DB_USER='dwh user'"), "[CLUSTER] DB_USER is not a valid user name: 'dwh user'"),
    (("ARN='arn:aws:iam::123456789012:role/dwhRole'", "ARN=arn:aws:iam::1234:role/x"),
     "[IAM_ROLE] ARN is not a valid IAM role ARN (arn:aws:iam::<account>:role/<name>): 'arn:aws:iam::1234:role/x'"),
    (("SONG_DATA='s3://udacity-dend/song_data'", "SONG_DATA=s3://udacity-dend/song_data' --"),
     "[S3] SONG_DATA is not a valid S3 URI (s3://bucket/prefix, no quotes or spaces): \"s3://udacity-dend/song_data' --\""),
    (("[S3]\n", "[S3]\nREGION=us-west-2;\n"), "[S3] REGION is not a valid AWS region (like us-west-2): 'us-west-2;'"),
    (("[S3]\n", "[S3]\nUNSIGNED=maybe\n"), "[S3] UNSIGNED must be true or false, not 'maybe'"),
    (("[CLUSTER]\n", "[CLUSTER]\nENGINE=oracle\n"), "[CLUSTER] ENGINE must be one of auto, postgres, redshift, not 'oracle'"),
    (("[CLUSTER]\n", "[CLUSTER]\nSCHEMA=Public;drop\n"),
     "[CLUSTER] SCHEMA is not a valid schema name (lower case letters, digits, _): 'Public;drop'"),
])
def test_bad_values_name_file_section_and_key(tmp_path, change, message):
    path = write(tmp_path, SEED.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert str(err.value) == f"{path}: {message}"


@pytest.mark.parametrize("text, message", [
    ("HOST=x\n", "line 1: cannot parse the file: a key before any [SECTION] header: 'HOST=x'"),
    ("[CLUSTER]\nHOST=x\nDB_NAME dwh\n",
     "line 3: cannot parse the file: not a [SECTION] header, a KEY=value line or a # comment: 'DB_NAME dwh'"),
    ("[CLUSTER]\nDB_PASSWORD Secret\n",
     "line 2: cannot parse the file: not a [SECTION] header, a KEY=value line or a # comment:"
     " (not shown: it may hold the password)"),
    ("[CLUSTER]\nDB_PASSWORD=\nSecret!\n",
     "line 3: cannot parse the file: not a [SECTION] header, a KEY=value line or a # comment:"
     " (not shown: it may hold the password)"),
    ("[S3]\nREGION=a\n[S3]\n", "line 3: cannot parse the file: section [S3] appears twice: '[S3]'"),
    ("[S3]\nREGION=a\nregion=b\n", "line 3: cannot parse the file: key REGION appears twice in [S3]: 'region=b'"),
    ("[cluster]\nHOST=x\n", "line 1: unknown section [cluster]: did you mean [CLUSTER]? (section names are upper case)"),
    ("\n[CLUSTR]\nHOST=x\n", "line 2: unknown section [CLUSTR]: did you mean [CLUSTER]? (section names are upper case)"),
    ("[DEFAULT]\nHOST=x\n", "line 1: unknown section [DEFAULT]: the sections are [CLUSTER], [IAM_ROLE], [S3], [AWS], [DWH]"),
    ("[S3]\nLOG_DAT=x\n", "line 2: unknown key LOG_DAT in [S3]: did you mean LOG_DATA?"),
    ("[CLUSTER]\n# a comment\nhots = x\n", "line 3: unknown key HOTS in [CLUSTER]: did you mean HOST?"),
    ("[IAM_ROLE]\nXYZ=1\n", "line 2: unknown key XYZ in [IAM_ROLE]: [IAM_ROLE] has ARN"),
], ids=["no section", "no equals sign", "a password line", "after the password", "section twice", "key twice",
        "lower-case section", "misspelt section", "DEFAULT", "misspelt key", "lower-case misspelt key", "unknown key"])
def test_a_file_that_does_not_parse_names_the_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert str(err.value) == f"{path}, {message}"
    assert "Secret" not in str(err.value)


def test_keys_are_case_insensitive(tmp_path):
    config = load_config(write(tmp_path, SEED.replace("DB_PORT=5439", "db_port=5440")), environ={})
    assert config.cluster.port == 5440


def test_a_utf8_bom_is_read(tmp_path):
    path = tmp_path / "dwh.cfg"
    path.write_bytes(b"\xef\xbb\xbf" + SEED.encode())
    assert load_config(path, environ={}).cluster.port == 5439


def test_a_file_that_is_not_utf8_says_so(tmp_path):
    path = tmp_path / "dwh.cfg"
    path.write_bytes(b"[CLUSTER]\nHOST=caf\xe9\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert str(err.value) == f"{path}: is not UTF-8 text (byte offset 18): save it as UTF-8"


@pytest.mark.parametrize("s3, missing", [
    ("", "LOG_DATA, LOG_JSONPATH, SONG_DATA are"),
    ("[S3]\nREGION=us-west-2\n", "LOG_DATA, LOG_JSONPATH, SONG_DATA are"),
    ("[S3]\nLOG_DATA=s3://bucket/log\nLOG_JSONPATH=s3://bucket/p.json\n", "SONG_DATA is"),
    ("[S3]\nLOG_DATA=s3://bucket/log\nLOG_JSONPATH=''\nSONG_DATA=s3://bucket/song\n", "LOG_JSONPATH is"),
])
def test_a_server_without_its_data_is_refused(tmp_path, s3, missing):
    """The shipped sample belongs to the embedded default: never loaded into a named server."""
    path = write(tmp_path, SEED.split("[S3]")[0] + s3)
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    names = missing.rsplit(" ", 1)[0]
    assert str(err.value) == (f"{path}: [S3] {missing} missing: [CLUSTER] names dwhcluster.abc.us-west-2.redshift"
                              f".amazonaws.com, and the shipped sample data is for the embedded default only; set"
                              f" {names} (see dwh.cfg.example)")
    assert err.value.exit_code == 2


@pytest.mark.parametrize("file_value, environ, key", [
    ("'a\x00b'", {}, "DB_PASSWORD"), ("", {"SPARKIFY_DB_PASSWORD": "a\x00b"}, "SPARKIFY_DB_PASSWORD")])
def test_a_nul_in_the_password_is_one_line(tmp_path, file_value, environ, key):
    path = write(tmp_path, SEED.replace("DB_PASSWORD='Secret 'pa%ss'", f"DB_PASSWORD={file_value}"))
    with pytest.raises(ConfigError) as err:
        load_config(path, environ=environ)
    assert str(err.value) == f"{path}: [CLUSTER] {key} contains a NUL character, which no server accepts"


@pytest.mark.parametrize("extra, expected", [
    ("", "require"),                       # a Redshift endpoint: SSL by default
    ("SSLMODE=verify-full\n", "verify-full"),
])
def test_redshift_connections_use_ssl(tmp_path, extra, expected):
    from sparkify.db import cluster_connect_params

    config = load_config(write(tmp_path, SEED.replace("[IAM_ROLE]", extra + "\n[IAM_ROLE]")), environ={})
    params = cluster_connect_params(config)
    assert params["sslmode"] == expected
    assert params["host"] == "dwhcluster.abc.us-west-2.redshift.amazonaws.com" and params["port"] == 5439


def test_plain_postgres_leaves_ssl_to_libpq(tmp_path):
    from sparkify.db import cluster_connect_params

    config = load_config(write(tmp_path, "[CLUSTER]\nHOST=db.example.com\nDB_PORT=5432\nDB_NAME=d\nDB_USER=u\n"
                                         + SEED[SEED.index("[S3]"):]), environ={})
    assert "sslmode" not in cluster_connect_params(config)


def test_verify_full_with_a_ca_bundle_next_to_the_config(tmp_path):
    from sparkify.db import cluster_connect_params

    (tmp_path / "redshift-ca-bundle.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    extra = "SSLMODE=verify-full\nSSLROOTCERT=redshift-ca-bundle.crt\n"
    config = load_config(write(tmp_path, SEED.replace("[IAM_ROLE]", extra + "\n[IAM_ROLE]")), environ={})
    params = cluster_connect_params(config)
    assert (params["sslmode"], params["sslrootcert"]) == ("verify-full", str(tmp_path / "redshift-ca-bundle.crt"))


def test_a_missing_ca_bundle_names_the_key(tmp_path):
    path = write(tmp_path, SEED.replace("[IAM_ROLE]", "SSLROOTCERT=nope.crt\n\n[IAM_ROLE]"))
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert str(err.value).startswith(f"{path}: [CLUSTER] SSLROOTCERT names no file: {tmp_path / 'nope.crt'} (")




def test_the_courses_config_beside_the_seeds_is_accepted(tmp_path):
    """[AWS] KEY/SECRET are the client's S3 credentials (never shown); [DWH] is provision.py's settings."""
    from sparkify.course import Provisioning

    config = load_config(write(tmp_path, SEED + "\n" + COURSE), environ={})
    assert config.sources.access.key == "AKIAIOSFODNN7EXAMPLE"
    assert config.sources.events.data.access.secret == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert config.aws is None  # names nothing for cleanup.py --aws to delete
    assert config.provisioning == Provisioning(cluster_type="multi-node", nodes=4, node_type="dc2.large",
                                               role_name="dwhRole", cluster_id="dwhcluster", db_name="dwh",
                                               db_user="dwhuser", password="Passw0rd", port=5439)
    assert "wJalrX" not in repr(config) and "Passw0rd" not in repr(config)


def test_without_the_course_keys_the_usual_credentials_serve(tmp_path):
    access = load_config(write(tmp_path, SEED), environ={}).sources.access
    assert (access.key, access.secret) == (None, None)


@pytest.mark.parametrize("text, message", [
    ("[AWS]\nKEY=AKIAIOSFODNN7EXAMPLE\n", "[AWS] SECRET is missing: [AWS] KEY is set, and an access key goes with its"
     " secret (or leave both empty for boto3's usual credentials)"),
    ("[AWS]\nKEY=not a key\nSECRET=s\n", "[AWS] KEY is not an AWS access key id (20 upper case letters and digits,"
     " like AKIA...; the value is not shown)"),
    ("[DWH]\nDWH_CLUSTER_TYPE=single-node\nDWH_NUM_NODES=4\n",
     "[DWH] DWH_NUM_NODES is 4, and DWH_CLUSTER_TYPE=single-node has 1 node"),
    ("[DWH]\nDWH_PORT=54\n", "[DWH] DWH_PORT must be a whole number from 1150 to 65535, not '54'"),
    ("[S3]\nUNSIGNED=true\nMANIFEST_PREFIX=s3://runs/m/\n",
     "[S3] UNSIGNED is true, and MANIFEST_PREFIX is set: a daily run on Redshift writes its manifests there, which"
     " an unsigned request may not (set UNSIGNED=false and give the client credentials)"),
], ids=["key without secret", "not a key", "single node of four", "port", "unsigned manifests"])
def test_course_and_daily_settings_are_checked(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value) == f"{path}: {message}"


def test_any_other_key_is_still_an_error_naming_its_line(tmp_path):
    path = write(tmp_path, SEED + "\n" + COURSE + "DWH_REGION=us-west-2\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    line = (SEED + "\n" + COURSE).count("\n") + 1
    assert str(error.value).startswith(f"{path}, line {line}: unknown key DWH_REGION in [DWH]")


@pytest.mark.parametrize("text, line, shown", [
    ("[CLUSTER]\nHOST=h\nDB_PORT=5432\nDB_NAME=d\nDB_USER=u\nDB_PASSWORD=\n\tSCHEMA=intended\n", 7,
     "DB_PASSWORD, so INI would read it as more of DB_PASSWORD's value: write it at the start of the line if it is a"
     " setting of its own: (not shown: it may hold the password)"),
    ("[S3]\nLOG_DATA=logs\n  SONG_DATA=songs\n", 3,
     "LOG_DATA, so INI would read it as more of LOG_DATA's value: write it at the start of the line if it is a"
     " setting of its own: 'SONG_DATA=songs'"),
], ids=["under the password", "under a path"])
def test_an_indented_line_under_a_key_is_refused(tmp_path, text, line, shown):
    """INI would make it part of the value above (the password "SCHEMA=intended", and the tables
    created in public instead of the schema meant)."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value) == f"{path}, line {line}: this line is indented under {shown}"


def test_indented_comments_and_keys_right_under_a_section_are_fine(tmp_path):
    config = load_config(write(tmp_path, "[S3]\n  MAX_ERRORS=2\n    # a note\nREGION=us-west-2\n"), environ={})
    assert (config.sources.max_errors, config.sources.region) == (2, "us-west-2")
