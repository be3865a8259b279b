"""arXiv's category taxonomy: which names a user may follow.

A config may name a category (``cs.AI``) or a whole archive (``cs``, ``hep-th``), just as
arXiv's RSS endpoint accepts both.
"""

from __future__ import annotations

from collections.abc import Iterable

_SUBJECTS = {
    "astro-ph": "CO EP GA HE IM SR",
    "cond-mat": "dis-nn mes-hall mtrl-sci other quant-gas soft stat-mech str-el supr-con",
    "cs": "AI AR CC CE CG CL CR CV CY DB DC DL DM DS ET FL GL GR GT HC IR IT LG LO MA MM MS NA NE "
    "NI OH OS PF PL RO SC SD SE SI SY",
    "econ": "EM GN TH",
    "eess": "AS IV SP SY",
    "math": "AC AG AP AT CA CO CT CV DG DS FA GM GN GR GT HO IT KT LO MG MP NA NT OA OC PR QA RA RT SG SP ST",
    "nlin": "AO CD CG PS SI",
    "physics": "acc-ph ao-ph app-ph atm-clus atom-ph bio-ph chem-ph class-ph comp-ph data-an ed-ph "
    "flu-dyn gen-ph geo-ph hist-ph ins-det med-ph optics plasm-ph pop-ph soc-ph space-ph",
    "q-bio": "BM CB GN MN NC OT PE QM SC TO",
    "q-fin": "CP EC GN MF PM PR RM ST TR",
    "stat": "AP CO ME ML OT TH",
}
# Archives that are also categories of their own (no subject classes).
_STANDALONE = ("gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math-ph", "nucl-ex", "nucl-th", "quant-ph")

ARCHIVES = frozenset([*_SUBJECTS, *_STANDALONE])
CATEGORIES = frozenset(
    [f"{archive}.{subject}" for archive, subjects in _SUBJECTS.items() for subject in subjects.split()]
    + list(_STANDALONE)
)


def is_known(name: str) -> bool:
    """True for an arXiv category or archive name (exact case, as arXiv spells it)."""
    return name in CATEGORIES or name in ARCHIVES


# Names people reach for that arXiv spells otherwise: a field's common name or abbreviation,
# and subject codes filed under another archive than one would guess.
_ALIASES = {
    "cs.ML": ("cs.LG", "stat.ML"),
    "ml": ("cs.LG", "stat.ML"),
    "machine-learning": ("cs.LG", "stat.ML"),
    "cs.NLP": ("cs.CL",),
    "nlp": ("cs.CL",),
    "cs.CVPR": ("cs.CV",),
    "cs.ROB": ("cs.RO",),
    "cs.QC": ("quant-ph", "cs.ET"),
    "cs.QI": ("quant-ph",),
    "cs.SP": ("eess.SP",),
    "cs.IV": ("eess.IV", "cs.CV"),
    "cs.AS": ("eess.AS", "cs.SD"),
    "cs.ST": ("math.ST", "stat.TH"),
    "cs.OC": ("math.OC",),
    "cs.RL": ("cs.LG",),
    "ai": ("cs.AI",),
    "quant": ("quant-ph",),
    "hep": ("hep-th", "hep-ph", "hep-ex", "hep-lat"),
    "astro": ("astro-ph",),
    "econ.ML": ("econ.EM", "stat.ML"),
    "stat.LG": ("cs.LG", "stat.ML"),
    "math.ML": ("stat.ML", "cs.LG"),
}


def suggestions(name: str) -> list[str]:
    """Valid names a user probably meant, best first, for error messages: the same name in
    arXiv's case, a known alias (``cs.ML`` -> cs.LG, stat.ML), the same subject under another
    archive (``eess.CV`` -> cs.CV), else the closest spelling."""
    names = sorted(CATEGORIES | ARCHIVES)
    by_case = {n.lower(): n for n in names}
    if name.lower() in by_case:
        return [by_case[name.lower()]]
    aliases = {key.lower(): value for key, value in _ALIASES.items()}
    if name.lower() in aliases:
        return [n for n in aliases[name.lower()] if n != name]
    subject = name.partition(".")[2]
    if subject:
        same_subject = [c for c in sorted(CATEGORIES) if c.partition(".")[2].lower() == subject.lower()]
        if same_subject:
            return same_subject[:3]
    import difflib  # here, not at import: only an unknown name needs it (a cold start never does)

    return difflib.get_close_matches(name, names, n=1, cutoff=0.6)


def suggest(name: str) -> str | None:
    """The likeliest valid name ("did you mean cs.AI?"), or None."""
    found = suggestions(name)
    return found[0] if found else None


def did_you_mean(name: str) -> str:
    """ " (did you mean 'cs.LG' or 'stat.ML'?)" for an invalid name, or "" with no guess."""
    found = suggestions(name)
    return f" (did you mean {' or '.join(repr(n) for n in found)}?)" if found else ""


def covers(followed: str, category: str) -> bool:
    """Whether a followed name (category or archive) includes a paper's category."""
    return category == followed or category.startswith(followed + ".")


def listed(categories: Iterable[str], followed: Iterable[str]) -> bool:
    """Whether a paper with these categories appears under any of the followed names."""
    names = list(followed)
    return any(covers(name, category) for category in categories for name in names)
