"""Document numbers (文号): per form and year, no gaps, no duplicates.

One row per (form, year) holds the last number given out; taking the next
one is a single ``UPDATE … RETURNING`` in the caller's transaction, so two
issuers at once get different numbers and a rolled-back issue gives its
number back (no gap).
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Integer, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from doc_service.db import metadata

number_sequences = Table(
    "number_sequences",
    metadata,
    Column("form_id", String(40), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last_seq", Integer, nullable=False, default=0),
)


def next_number(conn: Connection, form_id: str, year: int) -> int:
    """Take the next sequence number for ``form_id`` in ``year`` inside ``conn``'s transaction."""
    return next_numbers(conn, form_id, year, 1)


def next_numbers(conn: Connection, form_id: str, year: int, count: int) -> int:
    """Take the next ``count`` sequence numbers at once (a batch reserving a group's); the
    first of them. One statement, so the block is consecutive even with issuers at work."""
    if count < 1:
        raise ValueError("count must be positive")
    stmt = (
        update(number_sequences)
        .where(number_sequences.c.form_id == form_id, number_sequences.c.year == year)
        .values(last_seq=number_sequences.c.last_seq + count)
        .returning(number_sequences.c.last_seq)
    )
    last = conn.execute(stmt).scalar_one_or_none()
    if last is not None:
        return int(last) - count + 1
    try:
        with conn.begin_nested():
            conn.execute(insert(number_sequences).values(form_id=form_id, year=year,
                                                         last_seq=count))
        return 1
    except IntegrityError:
        # Someone else created the row between our UPDATE and INSERT: take the next ones.
        return int(conn.execute(stmt).scalar_one()) - count + 1


def peek(conn: Connection, form_id: str, year: int) -> int:
    """The last number given out (0 if none)."""
    row = conn.execute(select(number_sequences.c.last_seq).where(
        number_sequences.c.form_id == form_id, number_sequences.c.year == year)).scalar()
    return int(row or 0)
