"""Turning papers into documents, pure: one neutral feed object rendered as RSS 2.0, Atom or
JSON Feed (``feeds``), OPML (``opml``), the Markdown digest (``digest``) and the HTML page
(``pages``, with ``templates/`` and ``static/``), and the feedback pages and links
(``feedback``). Papers in, bytes out; no store, no network.

May import: ``core.text``, ``core.selection``, ``core.config``, ``core.models``, ``core.schedule``.
"""
