"""Clusters of matching records, and stable golden ids for them.

Union-find over integer record ids. Links are applied strongest first; a link that would put
two records with a must-not-link decision (an unmerge, a rejected review) into one cluster is
refused, so a person's decision holds whatever new evidence arrives.

Golden ids never depend on row order: a brand-new cluster is named after a hash of its lowest
source reference; a cluster that contains records of existing golden records keeps the oldest
of their ids (the others are recorded as merged into it); when a cluster splits, the part
holding most of the old members keeps the id and the rest get (or get back) their own.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self._forbidden: dict[int, set[int]] = {}  # root -> members it must never join

    def find(self, x: int) -> int:
        parent = self.parent
        root = parent.setdefault(x, x)
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def forbid(self, a: int, b: int) -> None:
        self._forbidden.setdefault(self.find(a), set()).add(b)
        self._forbidden.setdefault(self.find(b), set()).add(a)

    def union(self, a: int, b: int) -> bool:
        """Join the clusters of a and b unless a must-not-link decision forbids it."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        fa, fb = self._forbidden.get(ra), self._forbidden.get(rb)
        if fa and any(self.find(x) == rb for x in fa):
            return False
        if fb and any(self.find(x) == ra for x in fb):
            return False
        if ra > rb:  # lower id as root: deterministic whatever the link order
            ra, rb = rb, ra
            fa, fb = fb, fa
        self.parent[rb] = ra
        if fb:
            self._forbidden.setdefault(ra, set()).update(fb)
            del self._forbidden[rb]
        return True


def derived_id(prefix: str, ref: str) -> str:
    return prefix + hashlib.sha1(ref.encode()).hexdigest()[:16].upper()


@dataclass
class IdAssignment:
    ids: list[str]  # golden id per cluster, in input order
    merged: dict[str, str] = field(default_factory=dict)  # old golden id -> surviving id
    retired: set[str] = field(default_factory=set)  # old ids with no members left


def assign_ids(clusters: Sequence[Sequence[str]], previous: Mapping[str, str | None],
               age: Callable[[str], Any], prefix: str, in_use: Callable[[str], bool],
               touched: Iterable[str] = ()) -> IdAssignment:
    """Golden ids for clusters given as sorted source-reference lists.

    ``previous`` maps a member's reference to the golden id it had; ``age(gid)`` orders old ids
    (oldest first); ``in_use(gid)`` says an id is held by a golden record outside these clusters;
    ``touched`` lists old ids whose members left (deleted, quarantined): retired unless claimed.
    """
    claims: dict[str, list[tuple[int, str, int]]] = {}
    for ci, members in enumerate(clusters):
        counts = Counter(previous.get(ref) for ref in members)
        counts.pop(None, None)
        for gid, n in counts.items():
            assert gid is not None
            claims.setdefault(gid, []).append((-n, members[0], ci))
    won: dict[int, list[str]] = {}
    for gid, claimants in claims.items():
        won.setdefault(min(claimants)[2], []).append(gid)  # most old members; tie: lowest ref
    result = IdAssignment(ids=[""] * len(clusters))
    used = set(claims)
    for ci, gids in won.items():
        keep = min(gids, key=lambda g: (age(g), g))
        result.ids[ci] = keep
        result.merged.update({g: keep for g in gids if g != keep})
    for ci, members in enumerate(clusters):
        if result.ids[ci]:
            continue
        for ref in members:
            candidate = derived_id(prefix, ref)
            if candidate not in used and not in_use(candidate):
                break
        else:  # every member's id is taken: fall back to a hash of all members
            candidate = derived_id(prefix, "\n".join(members))
        used.add(candidate)
        result.ids[ci] = candidate
    result.retired = set(touched) - set(claims)
    return result


def group(members: Iterable[int], find: Callable[[int], int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for m in members:
        out.setdefault(find(m), []).append(m)
    return out
