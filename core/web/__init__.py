"""The FastAPI app (``app.create_app``): thin routes that read one snapshot of the store per
request and hand it to ``core.render``; the HTTP concerns around them (caching, security
headers, HEAD, public URLs, the OpenAPI contract); and the cron endpoints that run
``core.refresh``. Read-only on a reader's request: no arXiv, no LLM.

May import anything below it: ``core.refresh`` (cron only), ``core.render``, ``core.selection``,
``core.store``, ``core.text``, ``core.config``, ``core.settings``, ``core.models``.
"""
