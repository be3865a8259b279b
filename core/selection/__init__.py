"""Which stored papers a feed shows, and in what order: config.json's default feeds, a
request's query string (``query``), the selection itself (``select``), the same found through
the store's word index, reading only the candidates (``indexed``, through a ``Reader`` the web
layer gives), config.json's topics (``topics``) and the opinions readers give from the feeds
(``feedback``). Pure: papers in, papers out; the refresh and the web layer both use it.

May import: ``core.text``, ``core.arxiv.ids``, ``core.config``, ``core.models``, ``core.taxonomy``, ``core.errors``.
"""
