"""arXiv's category taxonomy: which names a user may follow.

A config may name a category (``cs.AI``) or a whole archive (``cs``, ``hep-th``), just as
arXiv's RSS endpoint accepts both.
"""

from __future__ import annotations

import difflib
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


def suggest(name: str) -> str | None:
    """The closest valid name, for error messages ("did you mean cs.AI?")."""
    names = sorted(CATEGORIES | ARCHIVES)
    by_case = {n.lower(): n for n in names}
    if name.lower() in by_case:
        return by_case[name.lower()]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return close[0] if close else None


def covers(followed: str, category: str) -> bool:
    """Whether a followed name (category or archive) includes a paper's category."""
    return category == followed or category.startswith(followed + ".")


def listed(categories: Iterable[str], followed: Iterable[str]) -> bool:
    """Whether a paper with these categories appears under any of the followed names."""
    names = list(followed)
    return any(covers(name, category) for category in categories for name in names)
