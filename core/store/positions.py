"""Positions of a ranked set in a store that orders rows by an integer (SQLite's ``entries``).

A next-day refresh adds about 1,500 papers among tens of thousands whose relative order does
not change (an entry's sort key is part of its stored version). Numbered 0, 1, 2 ..., every
entry after the first new one would move, and the whole set be written again (at 60,000 papers
a third of a second of a refresh). Positions here are sparse: a stored entry keeps its
position wherever the new order allows, new entries go into the gaps between their neighbours,
and only the entries placed anew are written. Where a gap is too narrow for what goes into it,
its neighbours are placed anew with it, over a window twice as wide each time, so the cost is
local; a set laid out afresh has ``SPACING`` between neighbours. Positions are SQLite's signed
64-bit rowids: the papers at the top (new ones, mostly) may take negative positions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

SPACING = 1 << 32  # between neighbours laid out afresh: a gap takes a day's papers many times over
MIN_GAP = 1 << 8  # the narrowest spacing a gap is split into; narrower, the window widens


def place(names: Sequence[str], stored: Mapping[str, int]) -> list[int]:
    """Strictly increasing positions for ``names`` in this order, keeping the ``stored``
    position of as many as it can (those already in increasing order, taken first come)."""
    placed: list[int | None] = [None] * len(names)
    last: int | None = None
    for i, name in enumerate(names):
        at = stored.get(name)
        if at is not None and (last is None or at > last):
            placed[i] = last = at
    start = 0
    while start < len(names):
        if placed[start] is not None:
            start += 1
            continue
        end = _next_placed(placed, start)
        start, end = _widened(placed, start, end)
        _spread(placed, start, end)
        start = end
    return [at for at in placed if at is not None]


def _next_placed(placed: Sequence[int | None], index: int) -> int:
    while index < len(placed) and placed[index] is None:
        index += 1
    return index


def _widened(placed: list[int | None], start: int, end: int) -> tuple[int, int]:
    """The window around ``start:end`` (not placed) whose bounds leave room to spread it."""
    width = end - start
    while start > 0 and end < len(placed):
        low, high = placed[start - 1], placed[end]  # placed before ``start``, kept at ``end``
        if low is None or high is None or (high - low) // (end - start + 1) >= MIN_GAP:
            break
        start, end = max(0, start - width), _next_placed(placed, min(len(placed), end + width))
        width *= 2
    return start, end


def _spread(placed: list[int | None], start: int, end: int) -> None:
    """Place ``start:end`` evenly between its neighbours (``SPACING`` apart at either open end)."""
    count = end - start
    low = placed[start - 1] if start > 0 else None
    high = placed[end] if end < len(placed) else None
    for k in range(count):
        if low is not None and high is not None:
            placed[start + k] = low + (high - low) * (k + 1) // (count + 1)
        elif high is not None:
            placed[start + k] = high - (count - k) * SPACING
        elif low is not None:
            placed[start + k] = low + (k + 1) * SPACING
        else:
            placed[start + k] = k * SPACING
