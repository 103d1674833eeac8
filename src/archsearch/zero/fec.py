"""Functional equivalence checking (FEC): an LRU cache of fitness keyed by a program's behaviour.

Real et al. (ICML 2020), section 4.1 and SPEC.md 4.7: before a full evaluation the candidate runs on a
few examples (``interpreter.fec_signature``: 10 train + 10 valid per task in the authors' demo); programs
whose error values on those examples agree hash alike and share one fitness. As in the released code the
cache keeps 100,000 entries (least recently used evicted first) and drops an entry once it has served
100 hits, so that a fitness is re-measured now and then instead of trusted for ever.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from archsearch.errors import ConfigError


class FunctionalEquivalenceCache:
    """Fitness by behaviour signature, with the hit rate of the lookups made so far.

    ``capacity`` (100,000 in the authors' code) bounds the entries; ``max_hits`` (100) is how many
    lookups an entry answers before it is dropped and its program re-measured.
    """

    def __init__(self, capacity: int = 100_000, max_hits: int = 100) -> None:
        if capacity < 1:
            raise ConfigError(f"FEC capacity must be at least 1, got {capacity}")
        if max_hits < 1:
            raise ConfigError(f"FEC max_hits must be at least 1, got {max_hits}")
        self.capacity = capacity
        self.max_hits = max_hits
        self._entries: OrderedDict[bytes, list[float | int]] = OrderedDict()  # key -> [fitness, hits]
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float:
        """Fraction of lookups answered from the cache (0 before the first lookup)."""
        return self.hits / self.lookups if self.lookups else 0.0

    def lookup(self, key: bytes) -> float | None:
        """The cached fitness of ``key``, or None (a miss: the caller measures and calls ``insert``).

        An entry that has already answered ``max_hits`` lookups is dropped and this lookup is a miss.
        """
        entry = self._entries.get(key)
        if entry is None or entry[1] >= self.max_hits:
            if entry is not None:
                del self._entries[key]
            self.misses += 1
            return None
        entry[1] = int(entry[1]) + 1
        self._entries.move_to_end(key)
        self.hits += 1
        return float(entry[0])

    def insert(self, key: bytes, fitness: float) -> None:
        """Remember ``fitness`` for ``key`` (its hit count starts at 0), evicting the least recently used."""
        self._entries[key] = [float(fitness), 0]
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def state_dict(self) -> dict[str, Any]:
        """Everything, in LRU order: a resumed search then hits and misses exactly as an uninterrupted one."""
        return {
            "keys": list(self._entries),
            "values": [(float(f), int(h)) for f, h in self._entries.values()],
            "hits": self.hits,
            "misses": self.misses,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._entries = OrderedDict(
            (key, [float(f), int(h)]) for key, (f, h) in zip(state["keys"], state["values"], strict=True)
        )
        self.hits = int(state["hits"])
        self.misses = int(state["misses"])
