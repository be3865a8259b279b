"""core.render.opml: every RSS feed in one OPML 2.0 document, to import into a reader at once."""

from __future__ import annotations

import feedparser
from fastapi.testclient import TestClient
from lxml import etree


def test_opml_lists_the_feeds_that_do_not_slice_another(served: TestClient) -> None:
    response = served.get("/opml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/x-opml")
    root = etree.fromstring(response.content)
    assert root.get("version") == "2.0"
    outlines = root.findall(".//outline[@type='rss']")
    urls = [o.get("xmlUrl") for o in outlines]
    assert urls == ["http://testserver/rss"]  # each category feed is a slice of it: on the page only
    for url in urls:
        assert not feedparser.parse(served.get(url).content).bozo
