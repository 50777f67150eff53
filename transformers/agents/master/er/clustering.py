"""Transitive clustering of matched pairs: connected components, union-find where capped.

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
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree


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


def _sequential(
    n: int, left: np.ndarray, right: np.ndarray, prob: np.ndarray, cap: int
) -> tuple[np.ndarray, dict[int, float], int, int]:
    """Kruskal with the size cap, edge by edge (strongest first): each row's root, the
    bottleneck per root, the joining edges and the refused merges."""
    order = np.argsort(-prob, kind="stable")
    uf = UnionFind(n)
    trust_root: dict[int, float] = {}
    joined = refused = 0
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
    return roots, trust_root, joined, refused


def cluster(
    n: int, left: np.ndarray, right: np.ndarray, prob: np.ndarray, max_size: int | None = None
) -> Clusters:
    """Clusters of the accepted edges over integer row positions.

    Connected components (scipy) first: a component no larger than ``max_size`` is exactly
    the cluster Kruskal would build (no merge inside it can be refused), and its bottleneck is
    the weakest edge of its maximum spanning tree (the same for every such tree). Only the
    rows of an oversize component go through the edge-by-edge Kruskal with the cap."""
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    prob = np.asarray(prob, dtype=np.float64)
    best = np.full(n, np.nan)
    if prob.size:
        np.fmax.at(best, left, prob)
        np.fmax.at(best, right, prob)
    if n == 0 or left.size == 0:
        return Clusters(
            label=np.arange(n, dtype=np.int64),
            size=np.ones(n, dtype=np.int64),
            trust=np.ones(n, dtype=np.float64),
            best_edge=best,
            joining_edges=0,
        )
    cap = max_size if max_size is not None else n
    graph = coo_matrix((np.ones(left.size, dtype=np.int8), (left, right)), shape=(n, n)).tocsr()
    n_comp, comp = connected_components(graph, directed=False)
    comp = comp.astype(np.int64)
    del graph
    comp_size = np.bincount(comp, minlength=n_comp)
    over = comp_size > cap
    edge_over = over[comp[left]]
    fine = ~edge_over
    trust_comp = np.ones(n_comp, dtype=np.float64)
    joined = 0
    if fine.any():
        # maximum spanning forest = minimum spanning forest of 2 - p (all weights in (1, 2])
        weights = 2.0 - prob[fine]
        tree = minimum_spanning_tree(
            coo_matrix((weights, (left[fine], right[fine])), shape=(n, n)).tocsr()
        ).tocoo()
        joined += int(tree.nnz)
        # the tree edges' own probabilities (2 - (2 - p) may differ from p in the last bit)
        lf, rf = left[fine], right[fine]
        codes = np.minimum(lf, rf) * n + np.maximum(lf, rf)
        order = np.argsort(codes)
        t_rows, t_cols = tree.row.astype(np.int64), tree.col.astype(np.int64)
        t_codes = np.minimum(t_rows, t_cols) * n + np.maximum(t_rows, t_cols)
        t_prob = prob[fine][order[np.searchsorted(codes, t_codes, sorter=order)]]
        np.minimum.at(trust_comp, comp[t_rows], t_prob)
    cid = comp
    trust_of = trust_comp
    refused = 0
    if over.any():
        rows = np.flatnonzero(over[comp])
        local = np.full(n, -1, dtype=np.int64)
        local[rows] = np.arange(rows.size)
        roots, trust_root, j2, refused = _sequential(
            rows.size, local[left[edge_over]], local[right[edge_over]], prob[edge_over], cap
        )
        joined += j2
        cid = comp.copy()
        cid[rows] = n_comp + roots
        extra = np.ones(rows.size, dtype=np.float64)
        for root, t in trust_root.items():
            extra[root] = t
        trust_of = np.concatenate([trust_comp, extra])
    _u, first, inverse = np.unique(cid, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    label = first.astype(np.int64)[inverse]  # the smallest member position of each cluster
    size = np.bincount(inverse)[inverse].astype(np.int64)
    trust = trust_of[cid]
    return Clusters(
        label=label,
        size=size,
        trust=trust,
        best_edge=best,
        joining_edges=joined,
        refused_merges=refused,
    )
