"""Benchmark: archive search and fixity at scale.

Fills an archive with ``--records`` records (default 100,000: metadata, a small PDF-like file
and a chain JSON each, in a fast non-durable store), then times the archive office's searches
by student number and by 文号 (p95 over ``--queries`` random look-ups, state derivation
included), and fixity over ``--big-files`` × ``--big-mb`` MB files archived through the real,
durable path (100k tiny files measure the file system, not hashing; that figure is printed too).

Prints ``search_student_p95_ms=<n> search_number_p95_ms=<n> fixity_mb_s=<n>`` and, on a
second line, details. Targets: search p95 <= 20 ms on SQLite and PostgreSQL, fixity >= 300
MB/s. The files were just written, so fixity reads from the page cache: it measures hashing,
the part this code controls. Run::

    .venv/bin/python benchmarks/archive.py [--records 100000]
    .venv/bin/python benchmarks/archive.py --db-url postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

# this file is named archive.py: drop its own folder from the path so `archive` is the package
sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import create_engine, event, insert, text  # noqa: E402

from archive.fixity import check_blobs, run_fixity  # noqa: E402
from archive.hashing import sm3_hex  # noqa: E402
from archive.index import files, install, records  # noqa: E402
from archive.model import ArchiveInput, RecordKind, Retention, archival_reference  # noqa: E402
from archive.service import archive_document, search  # noqa: E402
from archive.store import FileContentStore  # noqa: E402
from signing.records import ChainRecord, Decision, chain_document_bytes  # noqa: E402

COLLEGES = ["交通运输学院", "信息工程学院", "机电工程学院", "经济管理学院", "人文学院"]
FORMS = ["withdrawal_notice", "deferment_application", "verification_checklist",
         "status_change_notice", "enrollment_certificate"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"


def make_engine(url: str | None, tmp: Path):
    if not url:
        engine = create_engine(f"sqlite:///{tmp / 'bench.db'}")

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):  # type: ignore[no-untyped-def]
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")

        return engine, None, None
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))
    return create_engine(url, connect_args={"options": f"-csearch_path={schema}"}), admin, schema


def chain_json(doc_id: str, name: str) -> bytes:
    recs = [ChainRecord(0, doc_id, 1, "student", "S", name, Decision.APPROVE, "",
                        "2024-09-01T08:00:00Z", "a" * 64, "0" * 64, "b" * 64),
            ChainRecord(1, doc_id, 1, "registrar", "R", "赵六", Decision.SEAL, "",
                        "2024-09-02T08:00:00Z", "a" * 64, "0" * 64, "b" * 64)]
    return chain_document_bytes(doc_id, 1, recs)


def fill(engine, store: FileContentStore, n: int, rng: random.Random) -> tuple[list, list]:
    """Bulk-insert ``n`` records shaped exactly as archive_document writes them."""
    students = [f"2{rng.randrange(10**8):08d}" for _ in range(max(1, n // 5))]
    names = {s: rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
             for s in students}
    numbers: list[str] = []
    seqs: dict[tuple[int, str], int] = {}
    now = datetime.now(UTC)
    batch_r: list[dict] = []
    batch_f: list[dict] = []

    def flush() -> None:
        with engine.begin() as conn:
            conn.execute(insert(records), batch_r)
            conn.execute(insert(files), batch_f)
        batch_r.clear()
        batch_f.clear()

    for i in range(n):
        sid = rng.choice(students)
        doc = f"DOC-{i:07d}"
        form = rng.choice(FORMS)
        issued = date(2015, 1, 1) + timedelta(days=rng.randrange(3650))
        year = issued.year
        retention = Retention.YEARS_10 if form == "enrollment_certificate" else Retention.PERMANENT
        seq = seqs[(year, retention)] = seqs.get((year, retention), 0) + 1
        number = f"{year}年第{i + 1}号"
        numbers.append(number)
        pdf = b"%PDF-1.7\n" + rng.randbytes(2048)
        cj = chain_json(doc, names[sid])
        shas = [store.put(pdf), store.put(cj)]
        rid = uuid.uuid4().hex
        batch_r.append({
            "id": rid, "kind": RecordKind.ORIGINAL.value, "points_to": None, "dedupe_key": f"doc:{doc}:1",
            "archival_ref": archival_reference("13579", year, retention, seq),
            "school_code": "13579", "ref_year": year, "retention": retention.value, "seq": seq,
            "document_id": doc, "series_id": doc, "version": 1, "form_id": form,
            "form_title": form, "number": number, "student_no": sid,
            "student_name": names[sid], "college": rng.choice(COLLEGES), "issued_on": issued,
            "sealed_at": now, "signers": [{"role": "student", "name": names[sid],
                                           "at": "2024-09-01T08:00:00Z", "decision": ""}],
            "sha256": shas[0], "sm3": sm3_hex(pdf), "size": len(pdf), "chain_sha256": shas[1],
            "reason": "", "recorded_by": "bench", "created_at": now})
        batch_f += [{"record_id": rid, "position": 0, "role": "final_pdf", "version": None,
                     "sha256": shas[0], "sm3": sm3_hex(pdf), "size": len(pdf)},
                    {"record_id": rid, "position": 1, "role": "chain_json", "version": None,
                     "sha256": shas[1], "sm3": sm3_hex(cj), "size": len(cj)}]
        if len(batch_r) >= 2000:
            flush()
    if batch_r:
        flush()
    return students, numbers


def p95_ms(fn, keys: list, queries: int, rng: random.Random) -> float:
    for k in rng.sample(keys, min(20, len(keys))):  # warm up
        fn(k)
    times = []
    for _ in range(queries):
        k = rng.choice(keys)
        t = time.perf_counter()
        fn(k)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.quantiles(times, n=20)[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--db-url", default=None, help="PostgreSQL URL (default: SQLite in a temp dir)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--big-files", type=int, default=200)
    ap.add_argument("--big-mb", type=int, default=5)
    ap.add_argument("--tmp", default=None, help="where to make the work folder")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    rng = random.Random(42)
    tmp = Path(tempfile.mkdtemp(prefix="archive-bench-", dir=args.tmp))
    engine, admin, schema = make_engine(args.db_url, tmp)
    try:
        install(engine)
        store = FileContentStore(tmp / "store", durable=False)
        t = time.perf_counter()
        students, numbers = fill(engine, store, args.records, rng)
        fill_s = time.perf_counter() - t
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))

        student_p95 = p95_ms(lambda k: search(engine, student_no=k), students, args.queries, rng)
        number_p95 = p95_ms(lambda k: search(engine, number=k), numbers, args.queries, rng)

        small = run_fixity(engine, store)
        assert small.ok, small.findings[:3]

        # fixity of larger files, archived through the real (durable) path
        big_engine = create_engine(f"sqlite:///{tmp / 'big.db'}")
        install(big_engine)
        big_store = FileContentStore(tmp / "big-store")
        for i in range(args.big_files):
            doc = f"BIG-{i:04d}"
            archive_document(big_engine, big_store, ArchiveInput(
                document_id=doc, version=1, form_id="status_change_notice", form_title="x",
                number=f"B{i}", student_no="1", student_name="王伟", college=COLLEGES[0],
                issued_on=date(2024, 1, 1), sealed_at=datetime.now(UTC),
                final_pdf=b"%PDF-1.7\n" + os.urandom(args.big_mb << 20),
                chain_json=chain_json(doc, "王伟"), retention="永久", school_code="13579"))
        big = run_fixity(big_engine, big_store)
        assert big.ok
        t = time.perf_counter()
        _, _, one_bytes = check_blobs(big_store, list(big_store.iter_all()), workers=1)
        one_mb_s = one_bytes / 1e6 / (time.perf_counter() - t)
        big_engine.dispose()
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as c:
                c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"search_student_p95_ms={student_p95:.2f} search_number_p95_ms={number_p95:.2f} "
          f"fixity_mb_s={big.mb_per_s:.0f}")
    print(f"# db={engine.dialect.name} records={args.records} fill_s={fill_s:.1f} "
          f"small_files_fixity: {small.files_checked} files {small.mb_per_s:.0f} MB/s "
          f"{small.files_checked / small.seconds:.0f} files/s; big: {big.files_checked} files "
          f"{big.bytes_read / 1e6:.0f} MB in {big.seconds:.2f} s, one thread {one_mb_s:.0f} MB/s")


if __name__ == "__main__":
    main()
