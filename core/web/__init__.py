"""The FastAPI app (``app.create_app``): thin routes that read what a request needs of the
store (a feed's first papers, the word index's candidates, or one snapshot of every paper)
and hand it to ``core.render``; the HTTP concerns around them (caching, security
headers, HEAD, public URLs, the OpenAPI contract); and the cron endpoints that run
``core.refresh`` (``cron``, which also streams a deployment's first refresh to its first
visitor). A reader's request calls no LLM and never asks arXiv: it reads the store, and
writes only the ids a ``?like=`` names that are not stored (bounded), which the next refresh
fetches, and the opinions a feed item's signed "Like" / "Not for me" form POSTs
(``routes/feedback`` declares them, ``feedback`` answers, ``signing`` signs).

``app`` wires; ``routes/`` answers (feeds, pages, status, cron, feedback), each route reading the
``context`` and its query ``params``; ``words`` reads the store's word index for a filtered or
topic feed (and keeps what it read of it); ``snapshot`` is every stored paper at one version,
for what the index cannot narrow (``?like=``, the for-you feeds, the index page);
``caching`` decides between a kept answer and a render (``response_cache`` keeps them,
``costly`` caps the renders that match every paper); ``errors`` maps every error to HTTP
(settings or a config.json that do not load: 503 on every route, from ``app``).

May import anything below it: ``core.refresh`` (the cron jobs),
``core.render``, ``core.selection``, ``core.store``, ``core.text``, ``core.config``,
``core.settings``, ``core.models``.
"""
