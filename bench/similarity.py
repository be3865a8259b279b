"""The for-you feed, measured on the recorded 1,504-item day (python bench/similarity.py).

- The floor: for 300 random liked sets of three, each paper's best cosine and whether it shares
  an arXiv category with the liked paper it is most like, in bands of 0.02; the floor
  (core.text.similarity.FLOOR) is the lowest band from which most papers do, and the for-you
  list's length at that floor.
- Quality: for liked sets of three papers drawn from one archive, the share of the top 10 in
  that archive, against the archive's base rate; for the lexical model, and for the embedding
  path's plumbing with the loopback stand-in vectors (words hashed, not a real model).
- Time: fitting the index over 1,504 papers, and ranking them against 50 liked papers.
- Store: the extra bytes of 50 liked papers, of a vector per paper, and of ``for_you``.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.arxiv.rss import parse_feed
from core.models import Paper
from core.refresh.embeddings import decode, encode, most_like
from core.text.latex import readable
from core.text.similarity import FLOOR, Index
from tests.arxiv_fake import COMBINED, read
from tests.dashscope_fake import stand_in_vector

ARCHIVES = ("cs", "math", "astro-ph", "cond-mat", "quant-ph", "hep-th", "physics", "eess", "stat", "q-bio")
TRIALS = 10


def archive(paper: Paper) -> str:
    return paper.categories[0].split(".")[0]


def share_lexical(papers: list[Paper], index: Index, liked: list[Paper]) -> float:
    chosen = index.liked(liked)
    leave_out = {p.id for p in liked}
    scored = [(s.similarity, p) for p in papers if p.id not in leave_out and (s := index.similar(p, chosen))]
    top = [p for _, p in sorted(scored, key=lambda pair: -pair[0])[:10]]  # fewer when fewer pass the floor
    return sum(archive(p) == archive(liked[0]) for p in top) / max(len(top), 1)


def share_embedded(papers: list[Paper], vectors: dict, liked: list[Paper]) -> float:
    leave_out = {p.id for p in liked}
    scored = [(s.similarity, p) for p in papers if p.id not in leave_out and (s := most_like(p, liked, vectors))]
    top = [p for _, p in sorted(scored, key=lambda pair: -pair[0])[:10]]
    return sum(archive(p) == archive(liked[0]) for p in top) / 10


def cosine_pairs(papers: list[Paper], index: Index, rng: random.Random, trials: int) -> Iterator[tuple[float, bool]]:
    """For ``trials`` random liked sets of three: each other paper's best cosine, and whether it
    shares an arXiv category with the liked paper it is most like."""
    for _ in range(trials):
        liked = rng.sample(papers, 3)
        chosen, by_id = index.liked(liked), {p.id: p for p in liked}
        for paper in papers:
            best = chosen.best(index.vectors[paper.id])
            if paper.id in by_id or best is None:
                continue
            other, cosine = best
            yield cosine, bool(set(paper.categories) & set(other.categories))


def calibrate(papers: list[Paper], index: Index, rng: random.Random, trials: int = 300) -> None:
    """The share of papers sharing a category with their liked paper, by band of cosine."""
    bands: dict[int, list[int]] = {}
    for cosine, shared in cosine_pairs(papers, index, rng, trials):
        band = bands.setdefault(min(int(cosine * 50), 15), [0, 0])
        band[0] += shared
        band[1] += 1
    print("| cosine | pairs | share in a common category |")
    print("|---|---|---|")
    for band, (shared, count) in sorted(bands.items()):
        label = f"{band / 50:.2f}-{(band + 1) / 50:.2f}" if band < 15 else "0.30+"
        print(f"| {label} | {count} | {shared / count:.2f} |")
    # Bands of fewer than 100 pairs (over 0.22) are too few to judge alone.
    lowest = min(b for b in bands if all(s / c > 0.5 for bb, (s, c) in bands.items() if bb >= b and c >= 100))
    listed = sum(count for b, (_, count) in bands.items() if b >= FLOOR * 50) / trials
    print(f"the lowest band from which most papers share a category: {lowest / 50:.2f} (FLOOR = {FLOOR})")
    print(f"papers listed for a liked set of three at the floor: {listed:.1f} on average")


def main() -> None:
    papers = [readable(p) for p in parse_feed(read(COMBINED)).papers]
    started = time.perf_counter()
    index = Index.build(papers)
    fit_s = time.perf_counter() - started
    vectors = {p.id: decode(encode(stand_in_vector(f"{p.display_title}\n\n{p.display_abstract}", 512))) for p in papers}
    base = Counter(archive(p) for p in papers)
    rng = random.Random(2024)
    print(f"{len(papers)} papers; index fitted in {fit_s:.2f} s")
    calibrate(papers, index, random.Random(26))
    print("| archive | base rate | lexical: top-10 share | stand-in embeddings: top-10 share |")
    print("|---|---|---|---|")
    for name in ARCHIVES:
        pool = [p for p in papers if archive(p) == name]
        lexical, embedded = [], []
        for _ in range(TRIALS):
            liked = rng.sample(pool, 3)
            lexical.append(share_lexical(papers, index, liked))
            embedded.append(share_embedded(papers, vectors, liked))
        shares = f"{statistics.mean(lexical):.2f} | {statistics.mean(embedded):.2f}"
        print(f"| {name} | {base[name] / len(papers):.2f} | {shares} |")
    liked = rng.sample(papers, 50)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        chosen = index.liked(liked)
        for paper in papers:
            index.similar(paper, chosen)
        timings.append(time.perf_counter() - started)
    print(f"rank {len(papers)} papers against 50 liked: {min(timings) * 1000:.0f} ms (best of 5)")
    started = time.perf_counter()
    for paper in papers:
        most_like(paper, liked, vectors)
    print(f"the same by 512-dimension vectors (at refresh): {(time.perf_counter() - started) * 1000:.0f} ms")
    liked_bytes = sum(len(p.model_dump_json()) for p in liked)
    vector_bytes = len(encode([0.0] * 512))
    similar = most_like(papers[0], liked, vectors)
    for_you_bytes = len(similar.model_dump_json()) if similar else 0
    print(
        f"store: 50 liked papers {liked_bytes / 1024:.0f} KB; a 512-dimension vector {vector_bytes} B "
        f"({vector_bytes * len(papers) / 1e6:.1f} MB for the day); for_you on a paper {for_you_bytes} B"
    )


if __name__ == "__main__":
    main()
