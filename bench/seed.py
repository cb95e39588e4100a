"""Fill the certificates table to a given size for bench/load.py ("flat with size").

What: :func:`grow_to` copies the one really issued certificate (and its document request, which
the certificate's foreign key needs) into generated rows with one ``INSERT … SELECT … FROM
generate_series`` per table until the table holds ``size`` rows, then ANALYZEs. Every unique
column gets a value of its own (ids, numbers, verification codes, references), and the SHA-256
differs per row, so the indexes the checks use are as big as they would be with real documents.
:func:`plans` prints the query plans of the two lookups a check makes.

Why not the pipeline: a million signed PDFs would take days to issue here; what a check costs
as the table grows depends on the rows and their indexes, not on the files.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["count", "grow_to", "plans"]

#: Expressions for columns whose value must differ per generated row (``g`` is the series).
_SEED_ID = "'seed' || lpad(g::text, 28, '0')"
_OVERRIDES = {
    ("document_requests", "id"): _SEED_ID,
    ("certificates", "id"): "'cert' || lpad(g::text, 28, '0')",
    ("certificates", "request_id"): _SEED_ID,
    ("certificates", "sha256"): "encode(sha256(convert_to('seed' || g::text, 'UTF8')), 'hex')",
    ("certificates", "number"): "'SEED-' || g::text",
    ("certificates", "successor_id"): "NULL",
}


def _unique_columns(conn: sa.Connection, table: str) -> set[str]:
    rows = conn.execute(
        sa.text(
            "SELECT a.attname FROM pg_index i "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = CAST(:t AS regclass) AND i.indisunique"
        ),
        {"t": table},
    )
    return {r[0] for r in rows}


def _select_list(conn: sa.Connection, table: str) -> tuple[str, str]:
    """(column list, expressions) copying row ``t`` of ``table`` into generated row ``g``."""
    columns = conn.execute(
        sa.text(
            "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns "
            "WHERE table_name = :t AND table_schema = current_schema() ORDER BY ordinal_position"
        ),
        {"t": table},
    ).all()
    unique = _unique_columns(conn, table)
    names, values = [], []
    for name, data_type, length in columns:
        names.append(f'"{name}"')
        if (table, name) in _OVERRIDES:
            values.append(_OVERRIDES[(table, name)])
        elif name in unique:
            if "char" not in data_type and data_type != "text":
                raise SystemExit(f"seeding: do not know how to vary unique column {table}.{name}")
            width = length or 32
            # Upper-case letters and digits, like the real codes and references.
            values.append(f"upper(left(md5('{name}' || g::text) || md5(g::text || '{name}'), {width}))")
        else:
            values.append(f't."{name}"')
    return ", ".join(names), ", ".join(values)


def count(database_url: str) -> int:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.text("SELECT count(*) FROM certificates"))
    finally:
        engine.dispose()


def grow_to(database_url: str, size: int, *, real_code: str) -> int:
    """Add generated certificates until there are ``size``; returns how many there are now."""
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            have = conn.scalar(sa.text("SELECT count(*) FROM certificates"))
            start = conn.scalar(
                sa.text("SELECT count(*) FROM certificates WHERE id LIKE 'cert%'")
            )  # generated so far: the series continues after them
            missing = size - have
            if missing > 0:
                real = conn.execute(
                    sa.text("SELECT id, request_id FROM certificates WHERE verification_code = :c"),
                    {"c": real_code},
                ).one()
                for table, key, value in (
                    ("document_requests", "id", real.request_id),
                    ("certificates", "id", real.id),
                ):
                    names, values = _select_list(conn, table)
                    conn.execute(
                        sa.text(
                            f"INSERT INTO {table} ({names}) SELECT {values} FROM {table} t, "
                            "generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) g "
                            f"WHERE t.{key} = :key"
                        ),
                        {"first": start + 1, "last": start + missing, "key": value},
                    )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE document_requests"))
            conn.execute(sa.text("ANALYZE certificates"))
            return conn.scalar(sa.text("SELECT count(*) FROM certificates"))
    finally:
        engine.dispose()


def plans(database_url: str, *, code: str, sha256: str) -> list[str]:
    """The top line of the plan of each lookup a check makes (by code, by the file's SHA-256)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            lines = []
            for column, value in (("verification_code", code), ("sha256", sha256)):
                plan = conn.execute(
                    sa.text(f"EXPLAIN SELECT * FROM certificates WHERE {column} = :v"), {"v": value}
                ).scalars()
                lines.append(f"{column}: {next(iter(plan)).strip()}")
            return lines
    finally:
        engine.dispose()
