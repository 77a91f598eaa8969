"""A new signer's first decisions arriving together make one key pair, and none fails.

Seen before: 50 simultaneous first decisions of one signer gave two FileNotFoundErrors
(``current.tmp -> current``: writers shared a temporary name) and 4-8 key pairs.
"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

from signing.keystore import KeyStore

from .conftest import COLLEGE, PASSPHRASE


def _serials(keystore: KeyStore, signer_id: str) -> list[str]:
    d = keystore.path / "signers" / signer_id
    return sorted(p.name for p in d.iterdir() if p.is_dir())


def test_simultaneous_first_decisions_issue_one_certificate(keystore: KeyStore) -> None:
    barrier = threading.Barrier(12)
    serials: list[int] = []
    errors: list[BaseException] = []

    def first_decision() -> None:
        barrier.wait(timeout=30)
        try:
            ident = keystore.signer_identity("NEW-1", "孙七", "class_teacher", COLLEGE)
            serials.append(ident.cert.serial_number)
        except BaseException as e:  # noqa: BLE001 - the test counts every failure
            errors.append(e)

    threads = [threading.Thread(target=first_decision) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(serials) == 12 and len(set(serials)) == 1
    assert _serials(keystore, "NEW-1") == [f"{serials[0]:x}"]


def _identity_in_a_process(path: str, queue: multiprocessing.Queue[int]) -> None:
    ident = KeyStore(Path(path), PASSPHRASE).signer_identity("NEW-2", "周八", "student",
                                                              COLLEGE)
    queue.put(ident.cert.serial_number)


def test_processes_share_the_signer_lock(keystore: KeyStore) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[int] = ctx.Queue()
    procs = [ctx.Process(target=_identity_in_a_process, args=(str(keystore.path), queue))
             for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * 4
    serials = {queue.get(timeout=10) for _ in procs}
    assert len(serials) == 1
    assert _serials(keystore, "NEW-2") == [f"{next(iter(serials)):x}"]


def test_explicit_rotation_still_issues_a_new_certificate(keystore: KeyStore) -> None:
    first = keystore.signer_identity("NEW-3", "吴九", "student", COLLEGE)
    rotated = keystore.rotate_signer("NEW-3", "吴九", "student", COLLEGE)
    assert rotated.cert.serial_number != first.cert.serial_number
    again = keystore.signer_identity("NEW-3", "吴九", "student", COLLEGE)
    assert again.cert.serial_number == rotated.cert.serial_number
    assert len(_serials(keystore, "NEW-3")) == 2
