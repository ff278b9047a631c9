"""The made-up corpus of ``parley bench search``: a vocabulary and people-like queries.
Standard library only (``docs/bench/compare_engines.py`` uses it outside Parley's
environment)."""

from __future__ import annotations

import random


def vocabulary(size: int, seed: int = 7) -> list[str]:
    """``size`` made-up words, deterministic."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
    return sorted(words)


def queries(words: list[str], n: int, seed: int = 3) -> list[str]:
    """``n`` queries like people's: one to three words of the vocabulary's head and middle,
    some phrases, some with a filter."""
    rng = random.Random(seed)
    head = words[:2000]
    out = []
    for i in range(n):
        picked = rng.sample(head, rng.choice((1, 1, 2, 2, 3)))
        q = " ".join(picked)
        if i % 5 == 0 and len(picked) > 1:
            q = f'"{picked[0]} {picked[1]}"'
        if i % 7 == 0:
            q += " in:#corpus-0"
        out.append(q)
    return out
