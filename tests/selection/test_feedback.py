"""core.selection.feedback: one bounded record of opinions, one per paper, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.models import Feedback
from core.selection.feedback import (
    MAX_ABSTRACT,
    MAX_OPINIONS,
    disliked_papers,
    forget_opinion,
    liked_papers,
    record_opinion,
)
from tests.papers import make_paper

NOW = datetime(2024, 11, 28, 9, tzinfo=UTC)


def test_an_opinion_is_kept_with_the_paper_s_text_and_a_new_version() -> None:
    paper = make_paper("Speech $\\alpha$", "x" * 5000, id="2411.18138", title_text="Speech α")
    feedback = record_opinion(Feedback(), paper, "like", NOW)
    (opinion,) = feedback.opinions
    assert (opinion.id, opinion.action, opinion.title) == ("2411.18138", "like", "Speech α")
    assert len(opinion.abstract) == MAX_ABSTRACT
    assert feedback.version
    assert record_opinion(feedback, paper, "like", NOW).version != feedback.version


def test_one_opinion_per_paper_the_newest_first_and_the_oldest_go_beyond_the_cap() -> None:
    feedback = Feedback()
    for n in range(MAX_OPINIONS + 3):
        feedback = record_opinion(feedback, make_paper(id=f"2411.{n:05d}"), "like", NOW + timedelta(seconds=n))
    assert len(feedback.opinions) == MAX_OPINIONS
    assert feedback.opinions[0].id == f"2411.{MAX_OPINIONS + 2:05d}"
    assert feedback.opinion("2411.00000") is None  # the oldest went
    turned = record_opinion(feedback, make_paper(id="2411.00100"), "dislike", NOW)
    assert [o.action for o in turned.opinions if o.id == "2411.00100"] == ["dislike"]
    assert turned.opinions[0].id == "2411.00100"
    assert forget_opinion(turned, "2411.00100").opinion("2411.00100") is None


def test_a_paper_marked_not_for_me_is_no_longer_liked_even_when_config_likes_it() -> None:
    configured = [make_paper(id="2411.00001"), make_paper(id="2411.00002")]
    feedback = record_opinion(Feedback(), configured[0], "dislike", NOW)
    feedback = record_opinion(feedback, make_paper("Liked from a feed", id="2411.00003"), "like", NOW)
    assert [p.id for p in liked_papers(configured, feedback)] == ["2411.00002", "2411.00003"]
    assert [p.id for p in disliked_papers(feedback)] == ["2411.00001"]


def test_the_record_stays_under_its_byte_cap_whatever_the_script_of_its_texts() -> None:
    from core.models import Opinion
    from core.selection.feedback import MAX_BYTES

    wide = "数" * MAX_ABSTRACT  # three bytes a character in UTF-8
    old = [Opinion(id=f"2411.{n:05d}", action="dislike", at=NOW, title="題" * 400, abstract=wide) for n in range(499)]
    feedback = record_opinion(Feedback(opinions=old), make_paper("題", wide, id="2412.00001"), "like", NOW)
    assert len(feedback.model_dump_json().encode()) <= MAX_BYTES
    assert MAX_OPINIONS / 2 < len(feedback.opinions) < MAX_OPINIONS
    assert [o.id for o in feedback.opinions[:2]] == ["2412.00001", "2411.00000"]  # newest first; the last (oldest) went
