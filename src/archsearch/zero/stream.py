"""The search's random stream: xoshiro256** (Blackman & Vigna) seeded by splitmix64.

Both search engines draw from it in the same order, the Python engine through ``Stream`` and the compiled
loop through its numba twins of these methods (``compiled.py``), so that one seed gives one search:
the same children, the same fitness sequence, the same best program. A draw is a 64-bit word; ``random``
keeps its top 53 bits as a float in [0, 1), and every other draw is built from ``random`` as below.
"""

from __future__ import annotations

import math

import numpy as np

_MASK = (1 << 64) - 1
_SCALE = 1.0 / 9007199254740992.0  # 2**-53


def seed_state(seed: int) -> np.ndarray:
    """The generator's four words from ``seed`` (splitmix64, as its authors recommend)."""
    words, x = [], int(seed) & _MASK
    for _ in range(4):
        x = (x + 0x9E3779B97F4A7C15) & _MASK
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        words.append(z ^ (z >> 31))
    return np.array(words, dtype=np.uint64)


class Stream:
    """xoshiro256** in Python: the Python engine's generator, draw for draw the compiled loop's."""

    def __init__(self, seed: int = 0) -> None:
        self.words = tuple(int(w) for w in seed_state(seed))

    def next_word(self) -> int:
        s0, s1, s2, s3 = self.words
        x = (s1 * 5) & _MASK
        result = ((((x << 7) | (x >> 57)) & _MASK) * 9) & _MASK  # rotl(s1 * 5, 7) * 9
        t = (s1 << 17) & _MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        self.words = (s0, s1, s2, ((s3 << 45) | (s3 >> 19)) & _MASK)  # rotl(s3, 45)
        return result

    def random(self) -> float:
        """Uniform in [0, 1) with 53 random bits."""
        return (self.next_word() >> 11) * _SCALE

    def below(self, count: int) -> int:
        """Uniform in 0..count-1 (0 when count is 0: the draw is still made)."""
        return int(self.random() * count)

    def between(self, low: float, high: float) -> float:
        """Uniform in [low, high)."""
        return low + (high - low) * self.random()

    def gauss(self) -> float:
        """Standard normal (Box-Muller, one value per call, two draws)."""
        first = self.random()
        second = self.random()
        return math.sqrt(-2.0 * math.log(1.0 - first)) * math.cos(2.0 * math.pi * second)

    def getstate(self) -> np.ndarray:
        return np.array(self.words, dtype=np.uint64)

    def setstate(self, words: np.ndarray) -> None:
        self.words = tuple(int(w) for w in words)
