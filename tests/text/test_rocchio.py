"""core.text.rocchio: a paper like a disliked one ranks lower, and says which one pulled it down."""

from __future__ import annotations

from core.text.rocchio import DISLIKE_SHARE, similar_despite
from core.text.similarity import FLOOR, LIKE_POINTS, Index
from tests.papers import make_paper

LIKED = make_paper("Speech recognition with transformers", "We transcribe speech audio with a transformer.", id="1")
DISLIKED = make_paper("Speech synthesis voices", "We synthesise speech voices from text with vocoders.", id="2")
NEIGHBOUR = make_paper(
    "Speech recognition and synthesis with transformers",
    "We transcribe speech audio with a transformer, and synthesise voices with vocoders.",
    id="3",
)
FAR = make_paper("Speech recognition of accents", "We transcribe accented speech audio.", id="4")
UNLIKE = make_paper("Protein folding", "Proteins fold into structures.", id="5")


def test_likeness_to_a_disliked_paper_takes_a_share_off_and_names_it() -> None:
    index = Index.build([LIKED, DISLIKED, NEIGHBOUR, FAR, UNLIKE])
    liked, disliked = index.liked([LIKED]), index.liked([DISLIKED])
    plain = index.similar(NEIGHBOUR, liked)
    pulled = similar_despite(index, NEIGHBOUR, liked, disliked)
    assert plain is not None
    assert pulled is not None
    assert pulled.pulled_down is not None
    assert pulled.pulled_down.id == "2"
    assert pulled.pulled_down.title == "Speech synthesis voices"
    assert pulled.points < plain.points
    assert abs(pulled.points - (plain.points - pulled.pulled_down.points)) <= 0.011  # each rounded to 0.01
    assert pulled.pulled_down.points == round(LIKE_POINTS * DISLIKE_SHARE * (pulled.pulled_down.similarity - FLOOR), 2)
    far_plain, far = index.similar(FAR, liked), similar_despite(index, FAR, liked, disliked)
    assert far_plain is not None
    assert far is not None
    assert far_plain.points < plain.points
    assert pulled.points - far.points < plain.points - far_plain.points  # the neighbour lost its lead


def test_a_paper_more_like_the_disliked_than_the_liked_is_not_alike_at_all() -> None:
    index = Index.build([LIKED, DISLIKED, NEIGHBOUR])
    assert similar_despite(index, DISLIKED, index.liked([LIKED]), index.liked([DISLIKED])) is None


def test_without_dislikes_nothing_changes() -> None:
    index = Index.build([LIKED, NEIGHBOUR])
    liked = index.liked([LIKED])
    assert similar_despite(index, NEIGHBOUR, liked, index.liked([])) == index.similar(NEIGHBOUR, liked)
