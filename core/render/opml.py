"""OPML 2.0: every feed this service offers, for a reader to import in one go."""

from __future__ import annotations

OPML_TYPE = "text/x-opml; charset=utf-8"


def render_opml(title: str, feeds: list[tuple[str, str, str]]) -> bytes:
    """``feeds`` holds (name, RSS URL, HTML page URL) triples."""
    import xml.etree.ElementTree as ET  # here, not at import: a cold instance serving feeds never needs it

    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    folder = ET.SubElement(body, "outline", text=title, title=title)
    for name, rss_url, page_url in feeds:
        ET.SubElement(
            folder, "outline", type="rss", text=name, title=name, xmlUrl=rss_url, htmlUrl=page_url, version="RSS2"
        )
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
