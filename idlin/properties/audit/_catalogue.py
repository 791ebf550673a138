"""The field's measures as JAX functions `m(F, G)`, ready for `audit` (docs/theory.md §9.5).

Each entry builds a measure from fixed probes (context pairs, labels, a log-odds direction, a
reference model), closed over as constants, so that it works at any width unless its definition
ties it to one (`d_rep`). They are small jnp versions written for differentiation; where
`idlin.core.metrics` has a traceable kernel it is reused (`cca_kernel`, `rep_kernel`,
`msvd_embedding`). No measure forms the N×V matrix C: memory and time grow with `(N + V)·d`
(docs/theory.md §3.2). Definitions (all on the stored `F`, `G`; `Ĝ = G − 1ḡᵀ`, `C = F Ĝᵀ`):

- rows of C are read as `C[x, :] = f(x)ᵀĜᵀ` (a few rows: `k × V`), or, for the measures that
  read every row, in **canonical coordinates** `X = F Ĝᵀ B` (N×r), B (V×r) the orthonormal
  basis `W_r` of rowspace(C) of the audited model p (`Analysis.log_odds_right`): at p,
  `X = U_C Σ`; `X` is isometric to the rows of C (`‖X[x] − X[x']‖ = ‖C[x] − C[x']‖`) on
  p's whole class, where rowspace(C) is fixed — so on the class the measure equals its
  definition on C, and its audit is that of the definition.
- `raw_cosine`: cosine of `f(b₁) − f(a₁)` and `f(b₂) − f(a₂)`.
- `embedding_norm`: `‖f(x₀)‖`, `x₀` the first pair's first context.
- `raw_parallelism` / `identifiable_parallelism`: `σ₂/σ₁` of the stacked *unit* differences
  `Δᵢ/‖Δᵢ‖`, `Δᵢ = f(bᵢ) − f(aᵢ)` / `C[bᵢ,:] − C[aᵢ,:]`, over the first three pairs:
  `properties._parallelism.parallelism_score` itself, so the report card audits what `inspect`
  reports (tests/test_audit_scale.py checks they agree).
- `raw_margin` / `identifiable_margin`: the probe margin `idlin.linear_probe` reports, of the
  ±1 labels on the points (`f(x)` / `X[x]`): the margin of the max-margin probe with a bias on
  `[x/ρ, 1]`, exact (NNLS on the host) and differentiable (Danskin):
  `properties._probe.probe_margin` itself, so the card audits what `inspect` reports. The
  labels are separable in every member by construction (`default_probes`).
- `raw_steering` / `identifiable_steering`: distance of a fixed centred log-odds direction `δ`
  from what steering can reach, `‖δ − Π δ‖/‖δ‖` with `Π` the projector onto `col Ĝ` / onto
  `rowspace C` (0 iff `δ` is reachable, docs/theory.md §6): `properties._steering.steering_score`;
  identifiable: in B's coordinates, `‖δ − BBᵀδ‖² + ‖Bᵀδ − Π_X Bᵀδ‖²`, `Π_X` onto `col Xᵀ`.
- `raw_faithfulness` / `identifiable_faithfulness`: relational faithfulness, scored by its
  continuous companion (docs/theory.md §6.3), the `mean_kl` of `idlin.relational_linearity`
  (`properties._relational.faithfulness_scores`): fit `f(t) ≈ A f(s) + b` by minimum-norm least
  squares on training pairs, decode the held-out predictions through `Ĝ` and report the mean KL
  from the model's own next-token distribution at the targets; identifiable: the same on `X`,
  decoded through `Bᵀ` (held-out rows only: `test × V`).
- `mcca_embeddings` / `mcca_unembeddings`: mean canonical correlation of `F` / `G` against the
  reference's (`idlin.core.metrics.cca_kernel`).
- `cka_embeddings`: linear CKA `‖YᵀX‖²_F/(‖XᵀX‖_F‖YᵀY‖_F)` of centred `F` and `F_ref`.
- `d_rep_second` / `d_rep_first`: `d²_rep(ref, p)` / `d²_rep(p, ref)` (`rep_kernel`, fixed
  pivot draws; equal widths, as its definition needs).
- `d_logit`: `‖C − C_ref‖²_F / N = Σ (XᵀX) ⊙ (YᵀY) / N`, `X = [F, −F_ref]`, `Y = [Ĝ, Ĝ_ref]`.
  `m_svd`: `m_SVD(p, ref)` (`msvd_embedding`, fixed pivot/labels).
- `causal_cosine`: the causal-inner-product cosine (Park et al. 2024) of `g(a) − g(b)` and
  `g(c) − g(e)`, `⟨u, v⟩ = uᵀ Cov(g)⁺ v` with the pseudo-inverse (reg = 0).
- `log_odds_norm`: `‖C‖_F = √Σ (FᵀF) ⊙ (ĜᵀĜ)` (a function of C: invariant by construction).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ...core._errors import ConfigError, ProbeError
from ...core._predictor import Predictor
from ...core.metrics import cca_kernel, msvd_embedding, rep_kernel
from .. import faithfulness_scores, parallelism_score, probe_margin, steering_score
from ._names import CANONICAL, MEASURES

__all__ = ["CANONICAL", "MEASURES", "Probes", "build", "default_probes"]

Measure = Callable[[jax.Array, jax.Array], jax.Array]


# -- small jnp building blocks -------------------------------------------------------------
def centred(G):
    return G - jnp.mean(G, axis=0, keepdims=True)


def log_odds_rows(X, G):
    """`X Ĝᵀ` (k×V) for k embeddings X: rows of C without forming Ĝ (`XGᵀ − (Xḡ)1ᵀ`)."""
    return X @ G.T - (X @ jnp.mean(G, axis=0))[:, None]


def canonical_rows(F, G, B):
    """`X = F Ĝᵀ B` (N×r): canonical coordinates of the contexts in the orthonormal basis B
    (V×r) of rowspace(C_p) (module docstring); `Ĝᵀ B = GᵀB − ḡ(1ᵀB)`, one V×d×r product."""
    GB = G.T @ B - jnp.outer(jnp.mean(G, axis=0), jnp.sum(B, axis=0))
    return F @ GB


def _rtol(x) -> float:
    """Relative pseudo-inverse threshold: √ε of the compute dtype (docs/theory.md §3.1)."""
    return math.sqrt(float(jnp.finfo(x.dtype).eps))


def pinv(X):
    return jnp.linalg.pinv(X, rtol=_rtol(X))


def cosine(u, v):
    return (u @ v) / jnp.sqrt((u @ u) * (v @ v))


def linear_cka(X, Y):
    X, Y = centred(X), centred(Y)
    num = jnp.sum(jnp.square(Y.T @ X))
    return num / (jnp.linalg.norm(X.T @ X) * jnp.linalg.norm(Y.T @ Y))


# -- probes ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Probes:
    """The fixed inputs of the catalogue's measures (all NumPy, closed over as constants).

    Attributes:
        pairs: (m, 2) context pairs `(aᵢ, bᵢ)` (cosine: the first two; parallelism: the first
            three; faithfulness: sources → targets, the last `test` pairs held out).
        test: held-out relational pairs. context: `x₀` of the embedding norm.
        token_pairs: (2, 2) token pairs of the causal cosine.
        labels: (N,) ±1 labels of the probes. delta: (V,) centred steering direction.
        pivot, tokens: pivot token and label tokens of m_SVD.
        reference: the fixed reference model of the two-model measures.
        rep_pivots, rep_subsets: the `(π, S)` draws of d_rep (|S| = the reference's width).
        model: the model the probes were drawn for (its rowspace(C) basis B is computed when a
            measure reads canonical coordinates).
    """

    pairs: np.ndarray
    test: int
    context: int
    token_pairs: np.ndarray
    labels: np.ndarray
    delta: np.ndarray
    pivot: int
    tokens: np.ndarray
    reference: Predictor
    rep_pivots: np.ndarray
    rep_subsets: np.ndarray
    model: Predictor | None = None


def _rep_draws(rng, V: int, k: int, draws: int):
    pivots, subsets = [], []
    for _ in range(draws):
        perm = rng.permutation(V)
        pivots.append(perm[0])
        subsets.append(np.sort(perm[1 : k + 1]))
    return np.array(pivots, np.int32), np.array(subsets, np.int32)


def separable_labels(p: Predictor, fallback: np.ndarray, seed: int) -> np.ndarray:
    """±1 labels separable with a bias in every member of p's class, raw and identifiable: the
    side of a threshold of `s = C θ` (θ a Gaussian log-odds direction drawn from
    `default_rng([seed, 1])`), a function of C and linear in both `f(x)` and the rows of C. The
    threshold is at the widest gap between consecutive scores in the middle half (so both
    classes hold ≥ a quarter of the contexts, with a clear margin). `fallback` when C θ has no
    spread (C = 0)."""
    F = np.asarray(p.embeddings, dtype=np.float64)
    G = np.asarray(p.unembeddings, dtype=np.float64)
    theta = np.random.default_rng([seed, 1]).normal(size=G.shape[0])
    s = F @ ((G - G.mean(axis=0)).T @ theta)  # C θ without forming C
    order = np.sort(s)
    lo = max(1, s.size // 4)
    cuts = np.arange(lo, s.size - lo + 1)  # cut i: order[: i] below, order[i :] above
    i = int(cuts[np.argmax(order[cuts] - order[cuts - 1])])
    if not order[i] > order[i - 1]:
        return fallback
    return np.where(s >= 0.5 * (order[i - 1] + order[i]), 1.0, -1.0)


def default_probes(
    p: Predictor,
    *,
    seed: int = 0,
    reference: Predictor | None = None,
    pairs: np.ndarray | None = None,
) -> Probes:
    """Probes for p drawn from `seed`: disjoint context pairs covering the contexts, ±1 labels
    separable in every member (`separable_labels`), a centred Gaussian δ, and (unless given) a
    diverse random reference model of p's width on the same contexts and vocabulary.

    Raises:
        ProbeError: p too small for the probes (N < 6 or V < 5), or pairs out of range.
    """
    N, V, d = p.num_contexts, p.vocab_size, p.width
    if N < 6 or V < 5:
        raise ProbeError(
            f"the catalogue's probes need N ≥ 6 contexts and V ≥ 5 tokens, got N={N}, V={V}"
        )
    rng = np.random.default_rng(seed)
    if pairs is None:
        perm = rng.permutation(N)
        pairs = perm[: 2 * (N // 2)].reshape(-1, 2)
    pairs = np.asarray(pairs, dtype=np.int32)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) < 3:
        raise ProbeError(
            f"pairs: expected at least 3 context pairs (m, 2), got shape {pairs.shape}"
        )
    if pairs.min() < 0 or pairs.max() >= N:
        raise ProbeError(
            f"pairs: expected context indices in [0, {N}), got {pairs.min()}…{pairs.max()}"
        )
    labels = separable_labels(p, np.where(rng.permutation(N) < N // 2, 1.0, -1.0), seed)
    delta = rng.normal(size=V)
    delta -= delta.mean()
    if reference is None:
        dtype = np.dtype(p.dtype)
        reference = Predictor(
            rng.normal(size=(N, d)).astype(dtype), rng.normal(size=(V, d)).astype(dtype)
        )
    k = min(V - 1, d)
    tokens = rng.permutation(V)
    rp, rs = _rep_draws(rng, V, reference.width, 4)
    return Probes(
        pairs=pairs,
        test=max(1, round(0.3 * len(pairs))),
        context=int(pairs[0, 0]),
        token_pairs=rng.permutation(V)[:4].reshape(2, 2).astype(np.int32),
        labels=labels,
        delta=delta,
        pivot=int(tokens[0]),
        tokens=np.sort(tokens[1 : k + 1]).astype(np.int32),
        reference=reference,
        rep_pivots=rp,
        rep_subsets=rs,
        model=p,
    )


# -- the measures ------------------------------------------------------------------------------
def _same_width(F, ref: Predictor, name: str) -> None:
    if F.shape[1] != ref.width:
        raise ConfigError(
            f"{name} maps one model's embeddings onto the other's by a d×d matrix: expected "
            f"width {ref.width}, got {F.shape[1]}"
        )


def row_basis(p: Predictor) -> np.ndarray:
    """`B = W_r` (V×r): an orthonormal basis of rowspace(C) of p, from its `Analysis`."""
    from ...core._analysis import analyze

    a = analyze(p)
    r = int(a.effective_complexity)
    if r == 0:
        raise ProbeError(
            "the identifiable measures need C ≠ 0: effective complexity is 0 (every context has "
            "the same next-token distribution)"
        )
    return np.asarray(a.log_odds_right)[:, :r]


def _canonical_basis(pr: Probes):
    if pr.model is None:
        raise ProbeError("probes: the identifiable measures need the probes' model (model=p)")
    B = row_basis(pr.model)
    return jnp.asarray(B), jnp.asarray(pr.delta @ B)


def build(name: str, pr: Probes) -> Measure:
    """The measure `name` of `MEASURES` on probes `pr`."""
    if name not in MEASURES:
        raise ConfigError(f"measure: expected one of {', '.join(MEASURES)}, got {name!r}")
    a, b = pr.pairs[:, 0], pr.pairs[:, 1]
    ntr = len(a) - pr.test
    ref = pr.reference
    # Constants meet the model in its own dtype (the search may run in float32).
    Fr = lambda F: jnp.asarray(ref.embeddings, F.dtype)  # noqa: E731
    Gr = lambda F: jnp.asarray(ref.unembeddings, F.dtype)  # noqa: E731
    labels = lambda F: jnp.asarray(pr.labels, F.dtype)  # noqa: E731
    delta = lambda F: jnp.asarray(pr.delta, F.dtype)  # noqa: E731
    delta_sq = float(pr.delta @ pr.delta)
    B, delta_B, outside = jnp.zeros((0, 0)), jnp.zeros((0,)), 0.0  # read by CANONICAL only
    if name in CANONICAL:
        B, delta_B = _canonical_basis(pr)
        # ‖δ − BBᵀδ‖²: the part of δ no member's rowspace(C) can reach (float64, once).
        outside = float(np.sum(np.square(pr.delta - np.asarray(B) @ np.asarray(delta_B))))

    def X_of(F, G):
        return canonical_rows(F, G, B.astype(F.dtype))

    def differences(F, G):
        return log_odds_rows(F[b[:3]] - F[a[:3]], G)

    train, test = pr.pairs[:ntr], pr.pairs[ntr:]

    def raw_faithfulness(F, G):
        return faithfulness_scores(F, centred(G), train, test, _rtol(F))[1]

    def identifiable_faithfulness(F, G):
        return faithfulness_scores(X_of(F, G), B.astype(F.dtype), train, test, _rtol(F))[1]

    def identifiable_steering(F, G):
        X = X_of(F, G)
        dB = delta_B.astype(F.dtype)
        # δ's distance from rowspace(C) splits into its part outside col(B) and the distance
        # of Bᵀδ from col(Xᵀ): `steering_score` of the latter, rescaled.
        inside = steering_score(dB, X.T, _rtol(X)) ** 2 * (dB @ dB)
        return jnp.sqrt((outside + inside) / delta_sq)

    def rep(first_is_p: bool):
        def m(F, G):
            _same_width(F, ref, "d_rep")
            args = (F, G, Fr(F), Gr(F)) if first_is_p else (Fr(F), Gr(F), F, G)
            subsets = pr.rep_subsets if not first_is_p else _subsets_for(F.shape[1], pr)
            _, vals = rep_kernel(
                *args, jnp.asarray(pr.rep_pivots), jnp.asarray(subsets),
                jnp.asarray(1e12, F.dtype), batch=1,
            )  # fmt: skip
            return jnp.mean(vals)

        return m

    def m_svd(F, G):
        pivot, tokens = jnp.asarray(pr.pivot), jnp.asarray(pr.tokens)
        return jnp.mean(msvd_embedding(F, G, Fr(F), Gr(F), pivot, tokens)[0])

    def c_norm(F, G):
        Gh = centred(G)
        return jnp.sqrt(_gram_product(F, Gh, F, Gh))

    measures: dict[str, Measure] = {
        "raw_cosine": lambda F, G: cosine(F[b[0]] - F[a[0]], F[b[1]] - F[a[1]]),
        "embedding_norm": lambda F, G: jnp.linalg.norm(F[pr.context]),
        "raw_parallelism": lambda F, G: parallelism_score(F[b[:3]] - F[a[:3]]),
        "identifiable_parallelism": lambda F, G: parallelism_score(differences(F, G)),
        "raw_margin": lambda F, G: probe_margin(F, labels(F)),
        "identifiable_margin": lambda F, G: probe_margin(X_of(F, G), labels(F)),
        "raw_steering": lambda F, G: steering_score(delta(F), centred(G), _rtol(G)),
        "identifiable_steering": identifiable_steering,
        "raw_faithfulness": raw_faithfulness,
        "identifiable_faithfulness": identifiable_faithfulness,
        "mcca_embeddings": lambda F, G: jnp.mean(cca_kernel(F, Fr(F), 0.0, _rtol(F))[0]),
        "mcca_unembeddings": lambda F, G: jnp.mean(cca_kernel(G, Gr(F), 0.0, _rtol(G))[0]),
        "cka_embeddings": lambda F, G: linear_cka(F, Fr(F)),
        "d_rep_second": rep(False),
        "d_rep_first": rep(True),
        "d_logit": lambda F, G: _d_logit(F, G, Fr(F), Gr(F)),
        "m_svd": m_svd,
        "causal_cosine": lambda F, G: _causal_cosine(F, G, pr.token_pairs),
        "log_odds_norm": c_norm,
    }
    return measures[name]


def _gram_product(X1, Y1, X2, Y2):
    """`⟨X₁Y₁ᵀ, X₂Y₂ᵀ⟩_F = Σ (X₁ᵀX₂) ⊙ (Y₁ᵀY₂)`: the inner product of two factored N×V
    matrices from d×d products."""
    return jnp.sum((X1.T @ X2) * (Y1.T @ Y2))


def _d_logit(F, G, Fr, Gr):
    """`‖C − C_ref‖²_F / N` from the factors (module docstring)."""
    X = jnp.concatenate([F, -Fr], axis=1)
    Y = jnp.concatenate([centred(G), centred(Gr)], axis=1)
    return _gram_product(X, Y, X, Y) / F.shape[0]


def _subsets_for(d: int, pr: Probes):
    """d_rep(p, ref) inverts p's L: |S| = p's width (the reference then has that width too)."""
    return pr.rep_subsets[:, :d]


def _causal_cosine(F, G, tp):
    Gh = centred(G)
    metric = pinv(Gh.T @ Gh / G.shape[0])
    u = G[tp[0, 0]] - G[tp[0, 1]]
    v = G[tp[1, 0]] - G[tp[1, 1]]
    return (u @ metric @ v) / jnp.sqrt((u @ metric @ u) * (v @ metric @ v))
