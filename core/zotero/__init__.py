"""Zotero, and only Zotero: a library's papers as liked papers, synced through the Web API v3.

``client`` speaks the API (its key and version headers, paging by ``Link``, ``Backoff`` and
``Retry-After``, bounded requests); ``items`` reads an item's arXiv id, or its title and
abstract, and is pure; ``sync`` keeps the store's record of the library up to date, asking
only for what changed since the version it holds, and is what the refresh's likes stage calls.

May import: ``core.arxiv.ids``, ``core.download``, ``core.text``, ``core.models``, ``core.config``,
``core.settings``, ``core.store``, ``core.errors``.
"""

from core.zotero.sync import ZoteroSync, sync

__all__ = ["ZoteroSync", "sync"]
