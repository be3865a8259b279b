"""Text, pure: LaTeX to Unicode and XML hygiene (``latex``), folding and the one matching
engine (``matching``), the words a paper is indexed by and a query looked up by (``words``),
the query language (``querylang``), scores (``scoring``), the lexical
similarity model (``similarity``) and "Not for me" counted against it (``rocchio``), and
model Markdown to safe HTML (``markdown``). No I/O.

May import: ``core.models``, ``core.errors``, ``core.taxonomy``.
"""
