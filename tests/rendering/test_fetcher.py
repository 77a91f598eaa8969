"""The URL fetcher serves the forms' own assets and refuses everything else."""

from __future__ import annotations

import pytest

from doc_service.config import FONTS_ROOT, FORMS_ROOT
from doc_service.rendering.fetcher import ASSET_BASE, AssetOnlyFetcher


@pytest.fixture
def fetcher() -> AssetOnlyFetcher:
    return AssetOnlyFetcher({"forms": FORMS_ROOT, "fonts": FONTS_ROOT})


def test_serves_a_form_asset(fetcher: AssetOnlyFetcher) -> None:
    response = fetcher.fetch(ASSET_BASE + "forms/_shared/base.css")
    assert b"@page" in response.read()
    assert fetcher.refused == []


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "http://169.254.169.254/latest/meta-data/",
    "https://example.com/x.png",
    ASSET_BASE + "forms/../../../../etc/passwd",
    ASSET_BASE + "forms/%2e%2e/%2e%2e/pyproject.toml",
    ASSET_BASE + "secrets/x",
    "ftp://example.com/x",
])
def test_refuses_anything_outside_the_assets(fetcher: AssetOnlyFetcher, url: str) -> None:
    with pytest.raises(ValueError):
        fetcher.fetch(url)
    assert fetcher.refused == [url]


def test_data_uris_are_decoded_locally(fetcher: AssetOnlyFetcher) -> None:
    response = fetcher.fetch("data:text/plain;base64,5Lit5paH")
    assert response.read().decode() == "中文"
