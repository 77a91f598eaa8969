"""A college added after the institution's set-up gets its own seal."""

from __future__ import annotations

from pathlib import Path

import pytest

from signing.errors import KeyStoreError
from signing.keystore import KeyStore


def test_add_college_creates_a_seal_once(tmp_path: Path) -> None:
    ks = KeyStore(tmp_path / "keys", b"pass")
    ks.init_institution("测试学院", ["甲学院"])
    with pytest.raises(KeyStoreError):
        ks.seal_identity("乙学院")
    assert ks.add_college("乙学院") is True
    assert ks.add_college("乙学院") is False
    seal = ks.seal_identity("乙学院")
    assert seal.png.startswith(b"\x89PNG")
    assert seal.cert.issuer == ks.root_cert().subject
    assert "乙学院" in ks.institution()["colleges"]
