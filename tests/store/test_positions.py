"""core.store.positions: sparse positions that let a save keep the rows of unmoved entries."""

from __future__ import annotations

from core.store.positions import MIN_GAP, SPACING, place


def names(count: int, prefix: str = "p") -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


def test_a_set_laid_out_afresh_is_spaced_evenly() -> None:
    assert place(names(3), {}) == [0, SPACING, 2 * SPACING]


def test_new_entries_go_between_their_neighbours_and_the_others_keep_their_place() -> None:
    stored = dict(zip(names(4), place(names(4), {}), strict=True))
    order = ["new-top", "p0", "p1", "new-middle", "p2", "p3", "new-bottom"]
    placed = place(order, stored)
    assert placed == sorted(set(placed))  # strictly increasing
    assert {n: at for n, at in zip(order, placed, strict=True) if n in stored} == stored
    assert placed[0] < 0 < placed[-1] - 3 * SPACING  # the open ends take room outside


def test_an_entry_that_moved_is_placed_anew_and_the_rest_stay() -> None:
    stored = dict(zip(names(5), place(names(5), {}), strict=True))
    order = ["p0", "p3", "p1", "p2", "p4"]  # p3 moved up
    placed = dict(zip(order, place(order, stored), strict=True))
    assert 1 <= sum(1 for n in order if placed[n] != stored[n]) <= 2  # p3, or p1 and p2
    assert [placed[n] for n in order] == sorted(placed.values())


def test_a_gap_too_narrow_lays_out_a_window_around_it_not_the_whole_set() -> None:
    stored = dict(zip(names(1000), place(names(1000), {}), strict=True))
    stored |= {"p500": stored["p499"] + MIN_GAP}  # p499 and p500 nearly touch
    stored |= {f"p{i}": stored["p500"] + (i - 500) * SPACING for i in range(501, 1000)}
    order = [*names(500), *names(100, "new"), *[f"p{i}" for i in range(500, 1000)]]
    placed = dict(zip(order, place(order, stored), strict=True))
    assert [placed[n] for n in order] == sorted(set(placed.values()))
    moved = [n for n in stored if placed[n] != stored[n]]
    assert 0 < len(moved) < 500
    assert all(placed[f"new{i}"] - placed[f"new{i - 1}"] >= MIN_GAP for i in range(1, 100))


def test_a_day_of_new_papers_in_one_gap_again_and_again_stays_local() -> None:
    """Every day's papers land at the same place (the top of a score tie): the gap there
    narrows each day until it must widen; the entries placed anew stay a few days' worth."""
    order = names(5000)
    stored = dict(zip(order, place(order, {}), strict=True))
    for day in range(20):
        order = [*order[:2000], *names(1500, f"d{day}-"), *order[2000:]]
        placed = place(order, stored)
        assert placed == sorted(set(placed))
        moved = sum(1 for n, at in zip(order, placed, strict=True) if stored.get(n, at + 1) != at)
        assert moved < 4 * 1500
        stored = dict(zip(order, placed, strict=True))
