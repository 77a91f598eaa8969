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
    stmt = (
        update(number_sequences)
        .where(number_sequences.c.form_id == form_id, number_sequences.c.year == year)
        .values(last_seq=number_sequences.c.last_seq + 1)
        .returning(number_sequences.c.last_seq)
    )
    seq = conn.execute(stmt).scalar_one_or_none()
    if seq is not None:
        return int(seq)
    try:
        with conn.begin_nested():
            conn.execute(insert(number_sequences).values(form_id=form_id, year=year, last_seq=1))
        return 1
    except IntegrityError:
        # Someone else created the row between our UPDATE and INSERT: take the next one.
        return int(conn.execute(stmt).scalar_one())


def peek(conn: Connection, form_id: str, year: int) -> int:
    """The last number given out (0 if none)."""
    row = conn.execute(select(number_sequences.c.last_seq).where(
        number_sequences.c.form_id == form_id, number_sequences.c.year == year)).scalar()
    return int(row or 0)
