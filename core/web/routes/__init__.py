"""The routes, one ``APIRouter`` per concern: feeds (RSS, Atom, JSON Feed), pages (the index,
OPML, the digest), status (/health, /config) and cron (the jobs behind the bearer secret).

Each route decodes and validates its request, calls one function and replies; a route's
docstring (or its summary) is its OpenAPI text.
"""
