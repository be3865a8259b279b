"""arXiv, and only arXiv: the one HTTP client (``client``: its throttle, retries, deadlines and
size caps), the RSS announcements (``rss``), the API's Atom answers (``api``) and arXiv ids
(``ids``). Raw feedparser entries never leave this package: everything here returns
``core.models`` types.

May import: ``core.models``, ``core.text``, ``core.settings``, ``core.errors``, ``core.taxonomy``,
``core.download``.
"""
