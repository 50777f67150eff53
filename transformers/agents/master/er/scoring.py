"""Pair scoring: Fellegi-Sunter with EM-estimated m/u, or a weighted similarity average.

Fellegi-Sunter. For field k and agreement level l, ``m_k(l) = P(level l | match)`` and
``u_k(l) = P(level l | non-match)``. A pair's match weight is
``log2(lambda / (1 - lambda)) + sum_k log2(m_k(l_k) / u_k(l_k))`` over the fields that are not
missing on either side (a missing field adds 0: it is no evidence either way), and its match
probability is ``2^w / (1 + 2^w)``.

Estimation. ``u`` comes from comparing random row pairs (almost all non-matches), which is
robust and needs no labels; ``m`` and ``lambda`` (the share of matches among the blocked
candidate pairs) are then estimated by expectation-maximisation on the candidate pairs, with
``u`` held fixed. EM runs on the distinct agreement patterns with their counts, so it costs
the same for ten thousand or ten million pairs.

Weighted. ``score = sum_k w_k s_k / sum_k w_k`` over non-missing fields, with ``s_k`` the
level's similarity (level / top level) and ``w_k`` the field weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SMOOTH = 0.5  # additive smoothing of level counts (Jeffreys-style)


@dataclass
class FSModel:
    m: list[np.ndarray]
    u: list[np.ndarray]
    lam: float
    iterations: int = 0
    converged: bool = False
    history: list[float] = field(default_factory=list)

    def weights(self) -> list[np.ndarray]:
        """log2(m/u) per field and level: the evidence each agreement level carries."""
        return [np.log2(m / u) for m, u in zip(self.m, self.u, strict=True)]


def _patterns(levels: np.ndarray, n_levels: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct agreement patterns, their counts, and each row's pattern index."""
    if levels.shape[0] == 0:
        return levels, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    code = np.zeros(levels.shape[0], dtype=np.int64)
    for k, nl in enumerate(n_levels):
        code = code * (nl + 1) + (levels[:, k].astype(np.int64) + 1)
    _uniq, first, inverse, counts = np.unique(
        code, return_index=True, return_inverse=True, return_counts=True
    )
    return levels[first], counts, inverse


def estimate_u(random_levels: np.ndarray, n_levels: list[int]) -> list[np.ndarray]:
    """u_k(l) from random pairs, smoothed so that unseen agreement keeps a finite weight."""
    out = []
    for k, nl in enumerate(n_levels):
        col = random_levels[:, k] if random_levels.size else np.zeros(0, dtype=np.int8)
        col = col[col >= 0]
        counts = np.bincount(col.astype(np.int64), minlength=nl).astype(np.float64)[:nl]
        counts += SMOOTH
        out.append(counts / counts.sum())
    return out


def prior_m(n_levels: list[int]) -> list[np.ndarray]:
    """Starting m: most matches agree exactly, the rest spread over the lower levels."""
    out = []
    for nl in n_levels:
        if nl <= 1:
            out.append(np.ones(1))
            continue
        lower = np.arange(1, nl, dtype=np.float64)  # disagreement least likely for a match
        out.append(np.append(0.1 * lower / lower.sum(), 0.9))
    return out


def _log_lik(pats: np.ndarray, probs: list[np.ndarray]) -> np.ndarray:
    total = np.zeros(pats.shape[0], dtype=np.float64)
    for k, p in enumerate(probs):
        lv = pats[:, k].astype(np.int64)
        present = lv >= 0
        total[present] += np.log(p[lv[present]])
    return total


def em(
    levels: np.ndarray,
    n_levels: list[int],
    u: list[np.ndarray],
    lam: float = 0.01,
    max_iter: int = 100,
    tol: float = 1e-6,
    lam_max: float = 0.5,
) -> FSModel:
    """Estimate m and lambda on candidate pairs with u fixed (see module docstring).

    ``lambda`` is capped at ``lam_max``: when blocking is loose, "every candidate pair is a
    match" can fit the pair mixture as well as the real split (m collapses onto u); a cap at a
    plausible match share keeps EM on the split that separates duplicates.
    """
    m = prior_m(n_levels)
    pats, counts, _ = _patterns(levels, n_levels)
    model = FSModel(m=m, u=u, lam=lam)
    if counts.sum() < 10:
        return model
    log_u = _log_lik(pats, u)
    c = counts.astype(np.float64)
    for it in range(1, max_iter + 1):
        log_m = _log_lik(pats, m)
        logit = np.log(lam) - np.log1p(-lam) + log_m - log_u
        p = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        cp = c * p
        new_lam = float(np.clip(cp.sum() / c.sum(), 1e-9, min(lam_max, 1 - 1e-9)))
        new_m = []
        for k, nl in enumerate(n_levels):
            lv = pats[:, k].astype(np.int64)
            present = lv >= 0
            sums = np.bincount(lv[present], weights=cp[present], minlength=nl)[:nl] + 1e-3
            new_m.append(sums / sums.sum())
        delta = abs(new_lam - lam) + max(
            float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True)
        )
        m, lam = new_m, new_lam
        model.history.append(lam)
        model.iterations = it
        if delta < tol:
            model.converged = True
            break
    model.m, model.lam = m, lam
    return model


def fs_probability(levels: np.ndarray, n_levels: list[int], model: FSModel) -> np.ndarray:
    """Posterior match probability per pair under the Fellegi-Sunter model."""
    pats, _, inverse = _patterns(levels, n_levels)
    if pats.shape[0] == 0:
        return np.zeros(0, dtype=np.float64)
    logit = (
        np.log(model.lam) - np.log1p(-model.lam) + _log_lik(pats, model.m) - _log_lik(pats, model.u)
    )
    p = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
    return np.asarray(p[inverse.reshape(-1)], dtype=np.float64)


def weighted_score(levels: np.ndarray, n_levels: list[int], weights: list[float]) -> np.ndarray:
    """Weighted mean of per-field similarities over the fields present on both sides."""
    num = np.zeros(levels.shape[0], dtype=np.float64)
    den = np.zeros(levels.shape[0], dtype=np.float64)
    for k, nl in enumerate(n_levels):
        lv = levels[:, k]
        present = lv >= 0
        num[present] += weights[k] * lv[present] / max(nl - 1, 1)
        den[present] += weights[k]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
    return out
