"""/docs and /redoc work without internet: the pages and every asset they reference come from tripl itself."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_and_every_asset_are_served_by_tripl(client, page):
    r = client.get(page)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    refs = re.findall(r"""(?:src|href|spec-url)\s*=\s*['"]([^'"]+)['"]""", r.text)
    refs += re.findall(r"""(?:url|spec-url)\s*:\s*['"]([^'"]+)['"]""", r.text)
    assert refs, r.text
    for ref in refs:
        assert not re.match(r"^(https?:)?//", ref), f"{page} loads {ref} from outside tripl"
        got = client.get(ref)
        assert got.status_code == 200 and len(got.content) > 100, ref
    js = [ref for ref in refs if ref.endswith(".js")]
    assert js and all(len(client.get(ref).content) > 100_000 for ref in js)  # the real bundles, not stubs
