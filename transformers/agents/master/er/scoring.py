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
the same for ten thousand or ten million pairs. EM starts from, and is kept near, a
deterministic prior (pairs agreeing on most of their fields, :func:`likely_matches`), keeps m
monotone, and a degenerate solution falls back to that prior (see :func:`em`).

Prior for scoring. The pairs are scored with the prior of two *random* records matching
(``lambda`` times candidates over all pairs, :func:`random_pair_prior`), because ``u`` is
measured on random pairs; the candidate-pair ``lambda`` would count the blocking agreement
twice.

Term frequencies (Splink's term-frequency adjustment). Exact agreement on a common value
("smith", "john") is weaker evidence than on a rare one, yet ``u`` of the exact level is one
average over all values. For a pair agreeing exactly on field k with value v, the exact level's
``u_k`` is replaced by the value's own chance of a random agreement, its frequency ``f(v)``:
the weight becomes ``log2(m_k / f(v))``, i.e. the pair's logit moves by
``log(u_k(exact) / f(v))`` (:func:`tf_adjustment`), where ``u_k(exact)`` is taken as
``sum_v f(v)^2`` (the exact chance of a random agreement) so the shifts average to zero.
EM's E-step scores pairs with that shift too, so strangers sharing a common name are not
taken for duplicates while m is learnt; :func:`refine_m` then re-learns each field's m from
the pairs the other fields alone call matches.

Weighted. ``score = sum_k w_k s_k / sum_k w_k`` over non-missing fields, with ``s_k`` the
level's similarity (level / top level) and ``w_k`` the field weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SMOOTH = 0.5  # additive smoothing of level counts (Jeffreys-style)
#: share of the present fields a pair must agree on to count as a likely match (prior)
AGREE_SHARE = 0.5
#: an agreement level counts towards the likely-match prior only if random pairs reach it
#: at most this often (see likely_matches)
INFORMATIVE_U = 0.05


@dataclass
class FSModel:
    m: list[np.ndarray]
    u: list[np.ndarray]
    lam: float
    iterations: int = 0
    converged: bool = False
    history: list[float] = field(default_factory=list)
    lam_prior: float = 0.0  # lambda from the deterministic likely-match rule
    fallback: str | None = None  # why the EM solution was rejected for the prior model
    #: prior match probability used for scoring (random pairs; see random_pair_prior)
    lam_score: float | None = None
    #: fields (by index) whose m was re-estimated by refine_m
    refined: list[int] = field(default_factory=list)

    def weights(self) -> list[np.ndarray]:
        """log2(m/u) per field and level: the evidence each agreement level carries."""
        return [np.log2(m / u) for m, u in zip(self.m, self.u, strict=True)]


def _patterns(
    levels: np.ndarray, n_levels: list[int], weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct agreement patterns, their counts (the sum of ``weights``: rows may stand for
    several pairs), and each row's pattern index."""
    if levels.shape[0] == 0:
        return levels, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    code = np.zeros(levels.shape[0], dtype=np.int64)
    for k, nl in enumerate(n_levels):
        code = code * (nl + 1) + (levels[:, k].astype(np.int64) + 1)
    space = int(np.prod([nl + 1 for nl in n_levels], dtype=np.float64))
    if space <= 1 << 24:  # small code space: a table instead of a sort over all pairs
        counts_all = np.bincount(code, weights=weights, minlength=space)
        used = np.flatnonzero(counts_all)
        slot = np.zeros(space, dtype=np.int64)
        slot[used] = np.arange(used.size)
        inverse = slot[code]
        first = np.zeros(used.size, dtype=np.int64)
        first[inverse[::-1]] = np.arange(code.size - 1, -1, -1)  # first row of each pattern
        return levels[first], counts_all[used], inverse
    _uniq, first, inverse, counts = np.unique(
        code, return_index=True, return_inverse=True, return_counts=True
    )
    if weights is not None:
        counts = np.bincount(inverse.reshape(-1), weights=weights, minlength=first.size)
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
    """Fallback starting m: most matches agree exactly, the rest spread over the lower levels."""
    out = []
    for nl in n_levels:
        if nl <= 1:
            out.append(np.ones(1))
            continue
        lower = np.arange(1, nl, dtype=np.float64)  # disagreement least likely for a match
        out.append(np.append(0.1 * lower / lower.sum(), 0.9))
    return out


def likely_matches(
    levels: np.ndarray,
    n_levels: list[int],
    share: float = AGREE_SHARE,
    min_present: int = 3,
    u: list[np.ndarray] | None = None,
    common: np.ndarray | None = None,
) -> np.ndarray:
    """Pairs that agree (any agreement level) on more than ``share`` of the fields both sides
    have, with at least ``min_present`` such fields: a deterministic, high-precision rule.

    Duplicates agree on most of their fields; blocked non-matches agree on the one or two fields
    they were blocked on. On the FEBRL sets this rule keeps > 97% of the true links and < 0.3%
    of the candidate non-matches, which makes it a sound prior for ``lambda`` and ``m`` (the
    role Splink's deterministic-rule estimate of the match probability plays).

    With ``u`` given, only an *informative* agreement counts: a level that random pairs reach
    at most ``INFORMATIVE_U`` of the time. A loose level most strangers reach ("city12" vs
    "city31" is Jaro-Winkler-close; "12 high street" vs "40 high street" is token-close) is no
    sign of a duplicate; counting it let strangers who share a name and one identifier into
    the prior, which taught m that duplicates often disagree on birth date and postcode.

    ``common`` (per pair, from :func:`tf_adjustment`) counts the fields on which the pair agrees
    exactly on a *common* value (one random pairs share more than ``INFORMATIVE_U`` of the
    time): two strangers called John Smith agree on two fields that say almost nothing.
    """
    if levels.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    present = (levels >= 0).sum(axis=1)
    if u is None:
        agree = (levels >= 1).sum(axis=1)
    else:
        agree = np.zeros(levels.shape[0], dtype=np.int64)
        for k, uk in enumerate(u):
            strong = np.append(uk <= INFORMATIVE_U, False)  # index -1: missing
            strong[0] = False  # disagreement never counts
            agree += strong[levels[:, k].astype(np.int64)]
    if common is not None:  # exact agreement on a common value is no sign either
        agree = agree - common
    need = min(min_present, len(n_levels))
    return np.asarray((present >= need) & (agree > share * np.maximum(present, 1)), dtype=bool)


def _level_dist(pats: np.ndarray, weights: np.ndarray, n_levels: list[int]) -> list[np.ndarray]:
    out = []
    for k, nl in enumerate(n_levels):
        lv = pats[:, k].astype(np.int64)
        present = lv >= 0
        sums = np.bincount(lv[present], weights=weights[present], minlength=nl)[:nl] + 1e-3
        out.append(sums / sums.sum())
    return out


def monotone_m(m: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Project m so that the match weight log(m/u) never falls as agreement rises.

    Pool-adjacent-violators on the likelihood ratio: adjacent levels that break the order are
    pooled, and within a pool m is spread in proportion to u (one common ratio). This is the
    maximum-likelihood m under the monotone-likelihood-ratio constraint, and it rules out the
    nonsense of "closer agreement is weaker evidence". The top level is also kept at m >= u:
    exact agreement is never evidence against a match.
    """
    blocks: list[list[float]] = []  # [m_sum, u_sum, n_levels]
    for mi, ui in zip(m.tolist(), u.tolist(), strict=True):
        blocks.append([mi, ui, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            b = blocks.pop()
            blocks[-1][0] += b[0]
            blocks[-1][1] += b[1]
            blocks[-1][2] += b[2]
    out: list[float] = []
    for ms, us, cnt in blocks:
        start = len(out)
        out.extend(float(x) * ms / us for x in u[start : start + int(cnt)])
    res = np.asarray(out, dtype=np.float64)
    if res[-1] < u[-1]:
        res[-1] = u[-1]
    return np.asarray(res / res.sum(), dtype=np.float64)


def _log_lik(pats: np.ndarray, probs: list[np.ndarray]) -> np.ndarray:
    total = np.zeros(pats.shape[0], dtype=np.float64)
    for k, p in enumerate(probs):
        lv = pats[:, k].astype(np.int64)
        present = lv >= 0
        total[present] += np.log(p[lv[present]])
    return total


def degenerate(model: FSModel) -> str | None:
    """Why an EM solution cannot be a duplicate/non-duplicate split (None if it is sound).

    The failure mode is the "everything matches" fit: lambda runs away and the match class
    absorbs ordinary blocked pairs, so disagreeing on a field stops costing anything (m of the
    disagreement level climbs towards u). A sound model penalises disagreement on most fields.
    """
    if model.lam >= 0.5:
        return f"lambda {model.lam:.3f} >= 0.5"
    w0 = [float(np.log2(m[0] / u[0])) for m, u in zip(model.m, model.u, strict=True) if m.size > 1]
    if w0 and float(np.median(w0)) > -1.0:
        return f"disagreement carries almost no weight (median {np.median(w0):.2f} bits)"
    top = [float(np.log2(m[-1] / u[-1])) for m, u in zip(model.m, model.u, strict=True)]
    if top and max(top) <= 0:
        return "no field's exact agreement is evidence of a match"
    return None


def em(
    levels: np.ndarray,
    n_levels: list[int],
    u: list[np.ndarray],
    lam: float | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    lam_max: float = 0.5,
    adjustment: np.ndarray | None = None,
    common: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> FSModel:
    """Estimate m and lambda on candidate pairs with u fixed (see module docstring).

    ``weights``: how many candidate pairs each row of ``levels`` stands for (pairs grouped by
    agreement pattern and term-frequency shift, so EM costs the same for any number of pairs);
    None: one pair per row.

    Robustness, because "every candidate pair is a match" can fit a loose candidate set as well
    as the real split (m collapses onto u, the whole file becomes one cluster):

    * ``lambda`` and the starting ``m`` come from the deterministic rule in
      :func:`likely_matches` (unless ``lam`` is given), and EM may move ``lambda`` only within
      a factor of two of that prior (and never above ``lam_max``);
    * each M-step keeps m monotone (:func:`monotone_m`);
    * a solution that :func:`degenerate` rejects is replaced by the prior model (m from the
      likely matches, lambda from their share), recorded in ``model.fallback``.

    With ``adjustment`` (per pair, :func:`tf_adjustment`) the E-step scores each pair with its
    term-frequency shift, so strangers sharing a common name do not teach m that duplicates
    disagree on everything else; ``common`` keeps them out of the prior likewise.
    """
    pats, counts, inverse = _patterns(levels, n_levels, weights)
    c = counts.astype(np.float64)
    w = np.ones(levels.shape[0]) if weights is None else weights.astype(np.float64)
    if adjustment is not None and levels.shape[0]:
        inverse = inverse.reshape(-1)
        pair_likely = likely_matches(levels, n_levels, u=u, common=common)
        if float(w[pair_likely].sum()) < 10:
            pair_likely = likely_matches(levels, n_levels)
        w_likely = np.bincount(inverse, weights=pair_likely * w, minlength=pats.shape[0])
    else:
        adjustment = None
        likely = likely_matches(pats, n_levels, u=u)
        if float(c[likely].sum()) < 10:  # too few pairs to judge informativeness (tiny inputs)
            likely = likely_matches(pats, n_levels)
        w_likely = c * likely
    n_likely = float(w_likely.sum())
    if lam is None:
        lam = n_likely / c.sum() if c.sum() else 0.01
    lam = float(np.clip(lam, 1e-6, min(lam_max, 0.5)))
    lo, hi = max(lam / 2, 1e-9), min(lam * 2, lam_max, 1 - 1e-9)
    if n_likely >= 10:
        m = [
            monotone_m(mk, uk)
            for mk, uk in zip(_level_dist(pats, w_likely, n_levels), u, strict=True)
        ]
    else:
        m = prior_m(n_levels)
    model = FSModel(m=m, u=u, lam=lam, lam_prior=lam)
    if c.sum() < 10:
        return model
    prior = FSModel(m=list(m), u=u, lam=lam, lam_prior=lam)
    log_u = _log_lik(pats, u)
    for it in range(1, max_iter + 1):
        log_m = _log_lik(pats, m)
        logit = np.log(lam) - np.log1p(-lam) + log_m - log_u
        if adjustment is None:
            p = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
            cp = c * p
        else:
            pair_p = 1.0 / (1.0 + np.exp(-np.clip(logit[inverse] + adjustment, -700, 700)))
            cp = np.bincount(inverse, weights=pair_p * w, minlength=pats.shape[0])
        new_lam = float(np.clip(cp.sum() / c.sum(), lo, hi))
        new_m = [
            monotone_m(mk, uk) for mk, uk in zip(_level_dist(pats, cp, n_levels), u, strict=True)
        ]
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
    why = degenerate(model)
    if why is not None:
        prior.iterations, prior.history, prior.fallback = model.iterations, model.history, why
        return prior
    return model


def random_pair_prior(model: FSModel, n_candidates: int, n_all_pairs: int) -> FSModel:
    """Score with the prior of two *random* records matching, not of two candidate records.

    ``u`` is measured on random pairs, so the Bayes factor ``m/u`` is evidence against the
    random-pair prior. Candidate pairs were selected because they already agree on a blocking
    key; combining the candidate-pair ``lambda`` with random-pair ``u`` counts that agreement
    twice (two strangers who share a surname and a postcode then look like a match). The
    expected matches among candidates, ``lambda * candidates``, over all pairs is the
    random-pair prior (as Splink's ``probability_two_random_records_match``).
    """
    if n_all_pairs > 0 and n_candidates > 0:
        model.lam_score = float(np.clip(model.lam * n_candidates / n_all_pairs, 1e-12, model.lam))
    return model


def value_frequencies(codes: np.ndarray) -> np.ndarray | None:
    """Per row, the share of the non-missing rows holding the row's value (NaN if missing),
    relative to the chance that two random rows agree, ``sum_v f(v)^2``: so ``log`` of the
    inverse is the row's exact-agreement shift and averages to zero over random agreements.
    None when the column has no repeated value (nothing to adjust)."""
    present = codes >= 0
    if not present.any():
        return None
    counts = np.bincount(codes[present].astype(np.int64))
    if counts.max() <= 1:
        return None
    freq = np.full(codes.shape[0], np.nan, dtype=np.float64)
    f = counts / float(present.sum())
    freq[present] = f[codes[present]] / float((f * f).sum())
    return freq


#: A field tells strangers apart when at most this share of random pairs agree on it at all.
STRANGER_AGREE_SHARE = 0.1


def implied_fields(
    random_levels: np.ndarray, n_levels: list[int], min_pairs: int = 20
) -> list[tuple[int, int, float]]:
    """``(a, b, p)``: field b's exact agreement is (mostly) implied by field a's among random
    pairs that are strangers: they agree on at most one other field, and disagree on one
    that random pairs rarely agree on,
    ``p = P(b exact | a exact) >= 0.5`` (a postcode implies its city).

    Fellegi-Sunter assumes fields independent; counting city agreement on top of postcode
    agreement counts one fact twice. Measured on random pairs, so it needs no labels."""
    out: list[tuple[int, int, float]] = []
    if random_levels.shape[0] == 0:
        return out
    top = [random_levels[:, k] == nl - 1 for k, nl in enumerate(n_levels)]
    share = [float(t.mean()) for t in top]
    # Duplicates agree on (nearly) everything; counting them would read "both identify the
    # entity" as "one implies the other". So a stranger agrees on at most one other field (a
    # duplicate with typos still agrees partly on most), and disagrees on a field random pairs
    # rarely agree on at all (with three fields, "at most one other" alone lets duplicates in).
    agree = [random_levels[:, k] >= 1 for k in range(len(n_levels))]
    n_agree = np.sum(agree, axis=0)
    disagree = [random_levels[:, k] == 0 for k in range(len(n_levels))]
    telling = [
        float((random_levels[:, k] >= 1).mean()) <= STRANGER_AGREE_SHARE
        for k in range(len(n_levels))
    ]
    for a in range(len(n_levels)):
        for b in range(len(n_levels)):
            if b == a or share[b] < share[a] or n_levels[b] < 2:
                continue  # only the looser field is discounted by the stricter one
            others = [k for k in range(len(n_levels)) if k not in (a, b) and telling[k]]
            if not others:
                continue  # no field left to tell a stranger from a duplicate: claim nothing
            stranger = np.any([disagree[k] for k in others], axis=0)
            base = top[a] & stranger & (n_agree - agree[a] - agree[b] <= 1)
            n_a = int(base.sum())
            if n_a < min_pairs:
                continue
            p = float((base & top[b]).sum()) / n_a
            if p >= 0.5 and p > 4 * share[b]:
                out.append((a, b, p))
    return out


def field_shifts(
    levels: np.ndarray,
    n_levels: list[int],
    u: list[np.ndarray],
    freqs: list[np.ndarray | None],
    left: np.ndarray,
    implied: list[tuple[int, int, float]] | None = None,
) -> list[np.ndarray | None]:
    """Per field, the per-pair log shift of its weight (None: no shift): the term-frequency
    shift ``-log f(value)`` on exact agreement (``freqs`` are relative to ``sum f^2``, see
    :func:`value_frequencies`), and for a field implied by another (:func:`implied_fields`)
    the exact-agreement weight made ``log(m_b / P(b exact | a exact))`` when both agree."""
    out: list[np.ndarray | None] = [None] * len(n_levels)
    for k, (nl, freq) in enumerate(zip(n_levels, freqs, strict=True)):
        if freq is None or nl < 2:
            continue
        exact = np.flatnonzero(levels[:, k] == nl - 1)
        if exact.size == 0:
            continue
        f = freq[left[exact]]
        ok = np.isfinite(f) & (f > 0)
        shift = np.zeros(levels.shape[0], dtype=np.float32)
        shift[exact[ok]] = -np.log(f[ok])
        out[k] = shift
    done: set[int] = set()
    for a, b, p in implied or []:
        if b in done:
            continue
        both = (levels[:, a] == n_levels[a] - 1) & (levels[:, b] == n_levels[b] - 1)
        if not both.any():
            continue
        prev = out[b]
        shift = prev if prev is not None else np.zeros(levels.shape[0], dtype=np.float32)
        shift[both] = np.log(u[b][-1]) - np.log(p)
        out[b] = shift
        done.add(b)
    return out


def tf_adjustment(
    levels: np.ndarray,
    n_levels: list[int],
    u: list[np.ndarray],
    shifts: list[np.ndarray | None],
    freqs: list[np.ndarray | None],
    left: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per pair, the natural-log shift of the match weight (the sum of :func:`field_shifts`),
    and the number of fields agreeing exactly on a common value (``f > INFORMATIVE_U``)."""
    adj = np.zeros(levels.shape[0], dtype=np.float32)
    common = np.zeros(levels.shape[0], dtype=np.int8)
    for k, shift in enumerate(shifts):
        if shift is not None:
            adj += shift
        freq = freqs[k]
        if freq is None or n_levels[k] < 2:
            continue
        exact = np.flatnonzero(levels[:, k] == n_levels[k] - 1)
        f = freq[left[exact]]
        common[exact[np.isfinite(f) & (f * u[k][-1] > INFORMATIVE_U)]] += 1
    return adj, common


def fs_probability(
    levels: np.ndarray,
    n_levels: list[int],
    model: FSModel,
    adjustment: np.ndarray | None = None,
) -> np.ndarray:
    """Posterior match probability per pair under the Fellegi-Sunter model, the per-pair
    ``adjustment`` (log scale, :func:`tf_adjustment`) added to the logit."""
    pats, _, inverse = _patterns(levels, n_levels)
    if pats.shape[0] == 0:
        return np.zeros(0, dtype=np.float64)
    lam = model.lam if model.lam_score is None else model.lam_score
    logit = np.log(lam) - np.log1p(-lam) + _log_lik(pats, model.m) - _log_lik(pats, model.u)
    logit = logit[inverse.reshape(-1)]
    if adjustment is not None:
        logit = logit + adjustment
    p = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
    return np.asarray(p, dtype=np.float64)


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


#: posterior (from the other fields) a pair needs to teach a field its m in :func:`refine_m`
REFINE_CONFIDENCE = 0.999
#: fewest such pairs for a field's m to be re-estimated
REFINE_MIN_PAIRS = 30


def refine_m(
    levels: np.ndarray,
    n_levels: list[int],
    model: FSModel,
    shifts: list[np.ndarray | None] | None,
    rounds: int = 2,
    weights: np.ndarray | None = None,
) -> FSModel:
    """Re-estimate each field's m from the pairs the *other* fields call near-certain matches.

    EM on blocked candidates can run away: strangers who share a common name and a place look
    alike on several fields at once, the match class absorbs them and m learns that
    "duplicates" often disagree on address and birth date. Splink avoids this by training each
    field's m on pairs blocked by other fields; this is the same idea without blocking: for
    field k, the pairs whose posterior *without* field k (term frequencies included) reaches
    ``REFINE_CONFIDENCE`` are, by the other fields' evidence alone, matches, and the levels
    field k shows on them estimate ``m_k`` without circularity. Fields are conditionally
    independent given the match status in the model, so this is an unbiased estimate under the
    model's own assumptions. ``model.refined`` lists the fields re-estimated; ``weights``:
    pairs per row, as in :func:`em`.
    """
    if levels.shape[0] == 0:
        return model
    lam = model.lam if model.lam_score is None else model.lam_score
    need = float(np.log(REFINE_CONFIDENCE) - np.log1p(-REFINE_CONFIDENCE))

    def contribution(k: int) -> np.ndarray:
        w = np.append(np.log(model.m[k] / model.u[k]), 0.0).astype(np.float32)  # -1: missing
        contrib = w[levels[:, k]]
        shift = shifts[k] if shifts is not None else None
        return contrib + shift if shift is not None else contrib

    for _ in range(rounds):
        # one field's contribution at a time (pairs-sized float32 arrays), so memory stays at
        # a few pair-sized arrays however many fields there are
        total = np.full(levels.shape[0], np.log(lam) - np.log1p(-lam), dtype=np.float32)
        for k in range(len(n_levels)):
            total += contribution(k)
        new_m = list(model.m)
        for k, nl in enumerate(n_levels):
            if nl < 2:
                continue
            sel = ((total - contribution(k)) >= need) & (levels[:, k] >= 0)
            w = None if weights is None else weights[sel].astype(np.float64)
            if (int(sel.sum()) if w is None else float(w.sum())) < REFINE_MIN_PAIRS:
                continue
            lv = levels[sel, k].astype(np.int64)
            counts = np.bincount(lv, weights=w, minlength=nl)[:nl] + SMOOTH
            new_m[k] = monotone_m(counts / counts.sum(), model.u[k])
            if k not in model.refined:
                model.refined.append(k)
        model.m = new_m
    return model


def honest_threshold(prob: np.ndarray, target_precision: float, floor: float = 0.5) -> float:
    """The lowest posterior cut (at least ``floor``) at which the pairs accepted are expected,
    by the model's own posteriors, to be matches at ``target_precision``: pairs sorted by
    probability, the expected precision of the top k is the mean of their probabilities, and
    the cut is the probability of the largest k whose mean still reaches the target."""
    cand = np.sort(prob[prob >= floor])[::-1]
    if cand.size == 0:
        return floor
    expected = np.cumsum(cand) / np.arange(1, cand.size + 1)
    ok = np.flatnonzero(expected >= target_precision)
    if ok.size == 0:
        return float(cand[0])
    return float(max(cand[ok[-1]], floor))
