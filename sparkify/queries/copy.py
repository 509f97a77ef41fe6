"""Loading staging: Redshift's ``COPY ... FROM 's3://...'`` (and its NOLOAD check), PostgreSQL's
``COPY ... FROM STDIN`` that the project's loader feeds."""

from __future__ import annotations

from psycopg2 import sql

from .schema import STAGING_EVENTS, STAGING_SONGS, Table, names

# COPY's file compression parameters, by the [S3] ..._COMPRESSION setting
COPY_COMPRESSION = {"none": None, "gzip": sql.SQL("GZIP"), "bzip2": sql.SQL("BZIP2"), "zstd": sql.SQL("ZSTD")}


def copy_from_s3(table: Table, source: str, json_format: str, iam_role_arn: str, region: str | None,
                 max_errors: int = 0, noload: bool = False, compression: str = "none",
                 manifest: bool = False) -> sql.Composed:
    """Redshift ``COPY ... FROM 's3://...'``; every value was validated by sparkify.config.

    ``json_format`` is an S3 URI of a JSONPaths file, ``auto`` or ``auto ignorecase``. Statistics
    and compression analysis are off: staging is scratch space, emptied on every run. ``max_errors``
    bad records are tolerated and one more fails the load, as on PostgreSQL: Redshift's ``MAXERROR
    n`` fails at the n-th ("If the load returns the error_count number of errors or greater, the
    load fails"), so it is told ``max_errors + 1``. ``noload`` checks the files and loads nothing
    (``etl.py --validate``). ``compression``: how the files are stored (``COPY_COMPRESSION``).
    ``manifest``: ``source`` is a manifest naming exactly the files to load (what a run loads).
    """
    statement = sql.SQL("COPY {} FROM {} IAM_ROLE {}{} FORMAT AS JSON {}").format(
        sql.Identifier(table.name), sql.Literal(source), sql.Literal(iam_role_arn),
        sql.SQL(" MANIFEST") if manifest else sql.SQL(""), sql.Literal(json_format)
    )
    if COPY_COMPRESSION[compression] is not None:
        statement += sql.SQL(" ") + COPY_COMPRESSION[compression]
    if region:
        statement += sql.SQL(" REGION {}").format(sql.Literal(region))
    if max_errors:
        if not 0 < max_errors <= REDSHIFT_MAX_TOLERATED:
            raise ValueError(f"Redshift tolerates at most {REDSHIFT_MAX_TOLERATED} bad records, not {max_errors}")
        statement += sql.SQL(" MAXERROR {}").format(sql.Literal(int(max_errors) + 1))
    if noload:
        statement += sql.SQL(" NOLOAD")
    return statement + sql.SQL(" COMPUPDATE OFF STATUPDATE OFF")


# The most MAXERROR Redshift accepts is 100,000, which tolerates 99,999 bad records: the most
# MAX_ERRORS can be there, and what --validate asks for (every problem, not just the first).
REDSHIFT_MAX_TOLERATED = 99999


def validate_copy_queries(sources, iam_role_arn: str) -> list[sql.Composed]:
    """``etl.py --validate`` on Redshift: a ``NOLOAD`` COPY into each staging table for a
    ``sparkify.config.Sources``, which reads and checks every record and loads none."""
    return [
        copy_from_s3(STAGING_EVENTS, sources.log_data, sources.log_jsonpath, iam_role_arn, sources.region,
                     REDSHIFT_MAX_TOLERATED, True, sources.log_compression),
        copy_from_s3(STAGING_SONGS, sources.song_data, sources.song_json, iam_role_arn, sources.region,
                     REDSHIFT_MAX_TOLERATED, True, sources.song_compression),
    ]


def copy_from_stdin(table: Table, freeze: bool = False) -> sql.Composed:
    """PostgreSQL ``COPY ... FROM STDIN`` fed by the project's loader, in CSV format: strings quoted
    with backslash escapes, NULL an unquoted ``null`` -- orjson's JSON arrays without their brackets
    (``sparkify.records.copy_line``). ``freeze``: the rows arrive frozen, so the transform's first
    scans do not rewrite every page to set hint bits; allowed only when the same transaction
    emptied the table with TRUNCATE, as the ETL's does (staging is for the ETL alone: that frozen
    rows are visible to older snapshots does not matter there)."""
    options = sql.SQL("FORMAT csv, NULL 'null', ESCAPE '\\'") + (sql.SQL(", FREEZE") if freeze else sql.SQL(""))
    return sql.SQL("COPY {} ({}) FROM STDIN WITH ({})").format(
        sql.Identifier(table.name), names(table.column_names), options)


LAST_COPY_COUNT = sql.SQL("SELECT pg_last_copy_count()")
