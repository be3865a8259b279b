"""core.text.markdown: a model's Markdown becomes safe HTML (raw HTML escaped, unsafe links refused)."""

from __future__ import annotations

from core.text.markdown import render_markdown


def test_sections_lists_and_emphasis_render() -> None:
    html = render_markdown("## Main contributions\n- **42%** better\n- a `kv cache`")
    assert "<h2>Main contributions</h2>" in html
    assert "<li><strong>42%</strong> better</li>" in html
    assert "<code>kv cache</code>" in html


def test_raw_html_is_text_not_markup() -> None:
    html = render_markdown('<script>alert(1)</script> <img src=x onerror="alert(2)">')
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html


def test_only_safe_links_become_links() -> None:
    assert '<a href="https://arxiv.org/abs/2411.1">' in render_markdown("[paper](https://arxiv.org/abs/2411.1)")
    for unsafe in ("javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=", "vbscript:msgbox"):
        assert "<a " not in render_markdown(f"[click]({unsafe})"), unsafe


def test_xml_illegal_characters_are_dropped() -> None:
    assert "\x0c" not in render_markdown("form\x0cfeed")
