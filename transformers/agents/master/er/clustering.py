"""Transitive clustering of matched pairs with union-find.

Edges are taken strongest first (Kruskal order), so the edges that join clusters form a
maximum spanning forest; a cluster's ``trust_score`` is the weakest of those joining edges
(the bottleneck: the least certain merge the cluster depends on). A singleton has no merge to
doubt and gets 1.0.

Transitive-closure guard: a chain of individually acceptable links can join unrelated records
(A~B, B~C, ... into one giant cluster). A merge that would make a cluster larger than
``max_size`` is refused (the edges are taken strongest first, so the weakest links of such a
chain are the ones left out), and the refusals are counted for the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class UnionFind:
    """Disjoint sets over 0..n-1 with path halving and union by size."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.size = [1] * n

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        return True


@dataclass
class Clusters:
    #: cluster label per row: the smallest row position in its cluster
    label: np.ndarray
    size: np.ndarray  # per row: its cluster's size
    trust: np.ndarray  # per row: its cluster's bottleneck edge probability (1.0 singletons)
    best_edge: np.ndarray  # per row: strongest accepted edge touching it (NaN if none)
    joining_edges: int
    refused_merges: int = 0  # merges refused because the cluster would exceed max_size


def cluster(
    n: int, left: np.ndarray, right: np.ndarray, prob: np.ndarray, max_size: int | None = None
) -> Clusters:
    order = np.argsort(-prob, kind="stable")
    uf = UnionFind(n)
    trust_root: dict[int, float] = {}
    joined = refused = 0
    cap = max_size if max_size is not None else n
    for e in order.tolist():
        a, b = int(left[e]), int(right[e])
        ra, rb = uf.find(a), uf.find(b)
        if ra == rb:
            continue
        if uf.size[ra] + uf.size[rb] > cap:
            refused += 1
            continue
        p = float(prob[e])
        t = min(p, trust_root.pop(ra, 1.0), trust_root.pop(rb, 1.0))
        uf.union(ra, rb)
        trust_root[uf.find(ra)] = t
        joined += 1
    roots = np.fromiter((uf.find(i) for i in range(n)), dtype=np.int64, count=n)
    # label = smallest member position of each root
    label_of_root = np.full(n, n, dtype=np.int64)
    np.minimum.at(label_of_root, roots, np.arange(n, dtype=np.int64))
    label = label_of_root[roots] if n else np.zeros(0, dtype=np.int64)
    size = np.bincount(roots, minlength=n)[roots] if n else np.zeros(0, dtype=np.int64)
    trust_by_root = np.ones(n, dtype=np.float64)
    for root, t in trust_root.items():
        trust_by_root[root] = t
    trust = trust_by_root[roots] if n else np.ones(0, dtype=np.float64)
    best = np.full(n, np.nan)
    if prob.size:
        np.fmax.at(best, left, prob)
        np.fmax.at(best, right, prob)
    return Clusters(
        label=label,
        size=size,
        trust=trust,
        best_edge=best,
        joining_edges=joined,
        refused_merges=refused,
    )
