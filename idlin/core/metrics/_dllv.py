"""`d_LLV` of Nielsen, Marconato, Dittadi & Gresele (NeurIPS 2025), as their code computes it.

The operational definition is the authors' public code (bemigini/close-dist-rep-sim,
`src/dissimilarity_measures/distribution_distance.py`, `d_prob` with `dist_type="max"`,
`sum_or_max="sum"`); this module computes the same numbers by its own vectorised route
(docs/theory.md §8, `docs/theory.md §8`). Notation: `L_i[y, x] = log p_i(y|x)` (V×N), `sd` the
standard
deviation with Bessel's correction (`ddof = 1`), as `torch.var` uses.

Label terms, for a label pivot `k` and another label `y` (variation over the N inputs):

    σ_i(k, y) = sd_x(L_i[y] − L_i[k])
    R(k, y)   = sd_x(L_1[y]/σ_1 − L_2[y]/σ_2),   P(k, y) = sd_x(L_1[k]/σ_1 − L_2[k]/σ_2)
    S(k, y)   = |σ_1(k, y) − σ_2(k, y)|

Input terms, for an input set `(x₀, x_1, …, x_m)` (variation over the V labels): the same three
with the roles of labels and inputs exchanged (`R'`, `P'`, `S'`). With a left-out label `l`,

    t1 = max_{y ∉ {k, l}} max(R, P),   t3 = max_{y ∉ {k, l}} S,
    t2 = max_j max(R', P'),            t4 = max_j S',
    d_LLV = t1 + t2 + w·(t3 + t4).

Their pivot search: `(k, l)` minimises `t1` over all `V(V−1)` pairs (first minimiser in
row-major order); the input set minimises `t2` over a few random candidate sets.

Why it is fast: every quantity above is a norm of a combination of two centred columns of the
log-likelihood table. Centred over inputs, the columns of model i lie in the span of
`[F̃_i, ℓ̃_i]` (`F̃` the centred embeddings, `ℓ̃` the centred log-normalisers), so after one thin
QR of `[F̃_1, ℓ̃_1, F̃_2, ℓ̃_2]` (N × (d₁+d₂+2)) each label is a point in `d₁+d₂+2` dimensions and
the exhaustive `(k, y)` search costs `O(V² d)` instead of their `O(V² N)` loop — with the norms
still taken of explicit differences (no Gram-matrix cancellation).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._errors import ConfigError, RankError
from .._gap import check_comparable
from .._predictor import Predictor
from ._pivots import candidates

DEFAULT_NUM_SAMPLES = 20  # their `num_samples`
_DTYPES = (None, "float32")


@dataclasses.dataclass(frozen=True)
class DLLV:
    """`d_LLV(p, q)`, its four terms and the pivots behind them (see `d_llv`).

    Attributes:
        value: `t1 + t2 + weight·(t3 + t4)`; 0 iff the log-likelihood variations agree.
        t1: label shape term `max_{y∉{k,l}} max(R, P)`.
        t2: input shape term `max_j max(R', P')`.
        t3: label scale term `max_{y∉{k,l}} |σ_1 − σ_2|`.
        t4: input scale term `max_j |σ'_1 − σ'_2|`.
        weight: `w`, the weight of the scale terms.
        label_pivot: `k`.
        left_out_label: `l`.
        input_set: (m+1,) the input set; its first entry is the input pivot `x₀`.
        pivot_scores: (V,) `min_l t1(k, l)` per label pivot `k` when searched, else None.
        candidate_sets: (s, m+1) the candidate input sets searched, else None.
        candidate_scores: (s,) `t2` of each candidate set when searched, else None.
    """

    value: float
    t1: float
    t2: float
    t3: float
    t4: float
    weight: float
    label_pivot: int
    left_out_label: int
    input_set: Int[Array, " m1"]
    pivot_scores: Float[Array, " V"] | None
    candidate_sets: Int[Array, "s m1"] | None
    candidate_scores: Float[Array, " s"] | None


def legacy_numpy_input_sets(
    num_contexts: int, width: int, *, num_samples: int = DEFAULT_NUM_SAMPLES, seed: int = 0
) -> Int[np.ndarray, "s m1"]:
    """The candidate input sets their code draws after `np.random.seed(seed)`.

    Their search calls NumPy's legacy global generator,
    `np.random.choice(N, (d+1)·s, replace=False)` reshaped to `(s, d+1)`; `RandomState(seed)`
    is that generator in the state `np.random.seed(seed)` leaves. Pass the result as
    `d_llv(..., input_sets=...)` to reproduce their unseeded choice; idlin's own draws take a
    JAX key instead.

    Raises:
        ConfigError: `(d+1)·s > N` (the sets are disjoint) or sizes below 1.

    Example:
        >>> from idlin.core.metrics import legacy_numpy_input_sets
        >>> legacy_numpy_input_sets(500, 8).shape
        (20, 9)
    """
    m1, s = int(width) + 1, int(num_samples)
    if width < 1 or s < 1 or m1 * s > num_contexts:
        raise ConfigError(
            f"legacy input sets: expected width ≥ 1, num_samples ≥ 1 and (width+1)·num_samples "
            f"≤ N disjoint contexts, got width {width}, num_samples {s}, N {num_contexts}"
        )
    rng = np.random.RandomState(seed)  # the legacy stream, on purpose
    return rng.choice(num_contexts, m1 * s, replace=False).reshape(s, m1).astype(np.int32)


def _log_likelihoods(F, G, emulate_float32: bool):
    """`log p(y|x)` (N×V) and the log-normalisers `ℓ(x)` (N,); optionally the table rounded as
    their code stores it (float32)."""
    logits = F @ G.T
    if emulate_float32:
        # Their order of operations: x − (max + log Σ exp(x − max)), all in float32.
        x = logits.astype(jnp.float32)
        m = jnp.max(x, axis=1, keepdims=True)
        norm = m + jnp.log(jnp.sum(jnp.exp(x - m), axis=1, keepdims=True))
        return (x - norm).astype(F.dtype), None
    lse = jax.nn.logsumexp(logits, axis=1)
    return logits - lse[:, None], lse


@functools.partial(jax.jit, static_argnames=("emulate_float32",))
def _tables(F1, G1, F2, G2, emulate_float32: bool):
    """Both log-likelihood tables and the matrix `Z` whose columns span their input-centred
    label columns."""
    L1, lse1 = _log_likelihoods(F1, G1, emulate_float32)
    L2, lse2 = _log_likelihoods(F2, G2, emulate_float32)
    if emulate_float32:
        # Rounded tables are not low-rank: span them directly (r = min(N, 2V)).
        cols = [L1, L2]
    else:
        # L̃_i = F̃_i G_iᵀ − ℓ̃_i 1ᵀ: every centred column lies in span[F̃_i, ℓ̃_i], r = d₁+d₂+2.
        assert lse1 is not None and lse2 is not None  # the exact route returns ℓ̃
        cols = [F1, lse1[:, None], F2, lse2[:, None]]
    Z = jnp.concatenate([c - jnp.mean(c, axis=0, keepdims=True) for c in cols], axis=1)
    return L1, L2, Z


def _label_points(F1, G1, F2, G2, emulate_float32: bool):
    """Coordinates `A_i` (V×r) of the input-centred label columns `L̃_i[:, y]` in one
    orthonormal basis of their joint span: `‖A_i[y] − A_i[k]‖ = ‖L̃_i[:, y] − L̃_i[:, k]‖`.

    With `Z = Q R` (thin QR), a column `Z c` has coordinates `R c`. Householder QR from LAPACK
    (NumPy): XLA's CPU QR is an order of magnitude slower at these shapes."""
    L1, L2, Z = _tables(F1, G1, F2, G2, emulate_float32)
    V = G1.shape[0]
    if emulate_float32:
        # Project both tables on one Q: bitwise-equal tables give bitwise-equal points (their
        # exact ties stay ties).
        Q = jnp.asarray(np.linalg.qr(np.asarray(Z), mode="reduced")[0])
        return L1, L2, Z[:, :V].T @ Q, Z[:, V:].T @ Q
    R = jnp.asarray(np.linalg.qr(np.asarray(Z), mode="r"))
    d1 = F1.shape[1]
    minus = -jnp.ones((V, 1), G1.dtype)
    A = jnp.concatenate([G1, minus], axis=1) @ R[:, : d1 + 1].T  # L̃_1 = Z[:, :d₁+1] [G₁, −1]ᵀ
    B = jnp.concatenate([G2, minus.astype(G2.dtype)], axis=1) @ R[:, d1 + 1 :].T
    return L1, L2, A, B


def _pivot_rows(A, B, k):
    """For pivots `k` (K,): `‖Δ‖`s `(s1, s2)`, `R`, `P` against every label, each (K, V)."""
    Ak, Bk = A[k][:, None, :], B[k][:, None, :]
    s1 = jnp.linalg.norm(A[None] - Ak, axis=-1)
    s2 = jnp.linalg.norm(B[None] - Bk, axis=-1)
    # The √(n−1) of both sd's cancels in R and P: sd(a/σ_1 − b/σ_2) = ‖ã/s_1 − b̃/s_2‖.
    R = jnp.linalg.norm(A[None] / s1[..., None] - B[None] / s2[..., None], axis=-1)
    P = jnp.linalg.norm(Ak / s1[..., None] - Bk / s2[..., None], axis=-1)
    return s1, s2, R, P


@functools.partial(jax.jit, static_argnames=("batch",))
def _label_search(A, B, *, batch: int):
    """Per pivot k: `min_l max_{y∉{k,l}} max(R, P)`, the minimising l (their tie order) and the
    smallest `‖Δ‖` met (0 means a label indistinguishable from a pivot)."""
    V = A.shape[0]
    labels = jnp.arange(V)

    def one(k):
        s1, s2, R, P = _pivot_rows(A, B, k[None])
        M = jnp.where(labels == k, -jnp.inf, jnp.maximum(R, P)[0])
        top, idx = jax.lax.top_k(M, 2)  # equal values: lower index first
        # Leaving out l ≠ argmax keeps the maximum; leaving out the argmax leaves the runner-up.
        # With a tied maximum every l gives the same value and their loop keeps the first l.
        first = jnp.where(k == 0, 1, 0)
        lo = jnp.where(top[0] == top[1], first, idx[0])
        smallest = jnp.min(jnp.where(labels == k, jnp.inf, jnp.minimum(s1, s2)[0]))
        return top[1], lo, smallest

    return jax.lax.map(one, labels, batch_size=batch)


@jax.jit
def _label_terms(A, B, k, lo, n):
    s1, s2, R, P = _pivot_rows(A, B, k[None])
    use = (jnp.arange(A.shape[0]) != k) & (jnp.arange(A.shape[0]) != lo)
    t1 = jnp.max(jnp.where(use, jnp.maximum(R, P)[0], -jnp.inf))
    t3 = jnp.max(jnp.where(use, jnp.abs(s1 - s2)[0], -jnp.inf)) / jnp.sqrt(n - 1.0)
    smallest = jnp.min(jnp.where(jnp.arange(A.shape[0]) != k, jnp.minimum(s1, s2)[0], jnp.inf))
    return t1, t3, smallest


@jax.jit
def _input_terms(L1, L2, sets):
    """For candidate sets (s, m+1): `t2`, `t4` and the smallest `‖Δ‖` per set."""
    C1, C2 = L1[sets], L2[sets]  # (s, m+1, V), then centred over the V labels
    C1 = C1 - jnp.mean(C1, axis=-1, keepdims=True)
    C2 = C2 - jnp.mean(C2, axis=-1, keepdims=True)
    a0, b0, a, b = C1[:, :1], C2[:, :1], C1[:, 1:], C2[:, 1:]  # pivot (s, 1, V), rest (s, m, V)
    s1 = jnp.linalg.norm(a - a0, axis=-1)[..., None]
    s2 = jnp.linalg.norm(b - b0, axis=-1)[..., None]
    R = jnp.linalg.norm(a / s1 - b / s2, axis=-1)
    P = jnp.linalg.norm(a0 / s1 - b0 / s2, axis=-1)
    t2 = jnp.max(jnp.maximum(R, P), axis=1)
    t4 = jnp.max(jnp.abs(s1 - s2)[..., 0], axis=1) / jnp.sqrt(L1.shape[1] - 1.0)
    return t2, t4, jnp.min(jnp.minimum(s1, s2)[..., 0], axis=1)


def _index(name: str, value, size: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"{name}: expected an integer index, got {value!r}")
    if not 0 <= int(value) < size:
        raise ConfigError(f"{name}: expected an index in [0, {size}), got {value}")
    return int(value)


def _candidate_sets(key, N: int, m1: int, num_samples, input_set, input_sets):
    """The (s, m+1) input sets to score: given, or `s` disjoint sets drawn with `key`."""
    if input_set is not None and input_sets is not None:
        raise ConfigError("give input_set (no search) or input_sets (search), not both")
    if num_samples is not None and (input_set is not None or input_sets is not None):
        raise ConfigError("num_samples sizes a drawn search: expected it without input_set(s)")
    if input_set is not None:
        return candidates("input_set", input_set, N, 2)[None, :], False
    if input_sets is not None:
        arr = np.asarray(input_sets)
        if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 2:
            raise ConfigError(
                f"input_sets: expected an (s, m+1) integer array, s ≥ 1, m ≥ 1, got {arr.shape}"
            )
        rows = [candidates(f"input_sets[{i}]", row, N, 2) for i, row in enumerate(arr)]
        return np.stack(rows), True
    s = min(DEFAULT_NUM_SAMPLES, N // m1) if num_samples is None else int(num_samples)
    if s < 1 or s * m1 > N:
        raise ConfigError(
            f"num_samples: expected 1 ≤ s ≤ N // (d+1) = {N // m1} disjoint input sets of "
            f"d+1 = {m1} contexts, got {num_samples if num_samples is not None else s} (N = {N})"
        )
    if key is None:
        raise ConfigError("d_llv draws candidate input sets: expected key= (a jax PRNG key)")
    drawn = jax.random.choice(key, N, (s * m1,), replace=False)
    return np.asarray(drawn, np.int32).reshape(s, m1), True


def d_llv(
    p: Predictor,
    q: Predictor,
    *,
    key: PRNGKeyArray | None = None,
    weight: float = 1.0,
    num_samples: int | None = None,
    input_set: Sequence[int] | None = None,
    input_sets: Int[np.ndarray, "s m1"] | None = None,
    label_pivot: int | None = None,
    left_out_label: int | None = None,
    t2_cap: float | None = 1.0,
    log_likelihood_dtype: str | None = None,
) -> DLLV:
    """Nielsen et al.'s `d_LLV` between two predictors, with their pivot search (docs/theory.md §8).

    Definition (module docstring; `docs/theory.md §8`): `d_LLV = t1 + t2 + w·(t3 + t4)`, the
    maximal shape (`t1`, `t2`) and scale (`t3`, `t4`) mismatches of pivot-normalised
    log-likelihood variations, over labels (`t1`, `t3`: label pivot `k`, one left-out label
    `l`) and over inputs (`t2`, `t4`: an input set whose first entry is the pivot). It is what
    `d_prob(f1, g1, f2, g2, V, weight, num_samples, dist_type="max", sum_or_max="sum")` of
    Nielsen, Marconato, Dittadi & Gresele (NeurIPS 2025; bemigini/close-dist-rep-sim)
    returns. Symmetric; 0 for equivalent predictors (`p(y|x)` equal), and the terms are
    invariant to invertible linear maps of the representations.

    Pivot search (each part skipped when given):
    - `(k, l)`: the exact minimiser of `t1` over all `V(V−1)` pairs, ties to the first pair in
      row-major order, as their loop; vectorised, `O(V² d)` after one `O(N V d)` pass.
    - input set: among `s` disjoint candidate sets of `d+1` contexts (`d` the larger width),
      the one with the smallest `t2`. Their running minimum starts at `t2_cap = 1`, so when no
      candidate scores below 1 the first candidate is kept; `t2_cap=None` takes the plain
      minimiser. Candidates are drawn with `key`, or given: `input_sets` (their NumPy-seeded
      draw is `legacy_numpy_input_sets`), or one `input_set` (no search).

    Their code stores the log-likelihood table in float32; `log_likelihood_dtype="float32"`
    rounds it the same way (the rest in the predictors' dtype). Only their pivot choice on
    exactly equivalent pairs depends on that rounding (there every pair ties); values agree
    either way to float32 rounding (~1e-6 relative).

    Args:
        p, q: predictors on the same contexts and vocabulary (widths may differ); V ≥ 3, N ≥ 2.
        key: PRNG key for the candidate input sets (needed only when they are drawn).
        weight: `w ≥ 0`.
        num_samples: `s` (default `min(20, N // (d+1))`; their default is 20).
        input_set: one input set, pivot first (no input search).
        input_sets: (s, m+1) candidate sets to search instead of drawing them.
        label_pivot, left_out_label: `k` and `l` (both or neither; no label search).
        t2_cap: the starting value of their running minimum (`None`: none).
        log_likelihood_dtype: None (the predictors' dtype) or `"float32"` (as their code).

    Returns:
        A `DLLV` with the value, the four terms, the pivots and the search scores.

    Raises:
        IncompatibleError: different N or V.
        ConfigError: bad weight, sizes, pivots, sets or dtype; a draw without `key`.
        RankError: a label (input) whose log-likelihood variation equals its pivot's in p or q
            (`σ = 0`: the standardised terms are undefined).

    Example:
        >>> import jax, numpy as np, idlin
        >>> from idlin.core.metrics import d_llv
        >>> rng = np.random.default_rng(0)
        >>> p = idlin.Predictor(rng.normal(size=(40, 3)), rng.normal(size=(9, 3)))
        >>> q = idlin.Predictor(p.embeddings @ np.diag([2.0, -1.0, 0.5]),
        ...                     p.unembeddings @ np.diag([0.5, -1.0, 2.0]))
        >>> res = d_llv(p, q, key=jax.random.key(0))
        >>> bool(res.value < 1e-10), res.input_set.shape
        (True, (4,))
    """
    p, q = check_comparable(p, q)
    N, V = p.num_contexts, p.vocab_size
    weight = float(weight)
    if not 0.0 <= weight < float("inf"):
        raise ConfigError(f"weight: expected a finite weight ≥ 0, got {weight}")
    if log_likelihood_dtype not in _DTYPES:
        raise ConfigError(
            f"log_likelihood_dtype: expected one of {_DTYPES}, got {log_likelihood_dtype!r}"
        )
    if t2_cap is not None and not float(t2_cap) > 0.0:
        raise ConfigError(f"t2_cap: expected None or a positive cap, got {t2_cap}")
    if V < 3 or N < 2:
        raise ConfigError(
            "d_llv needs a label pivot, a left-out label and another label, and two inputs: "
            f"expected V ≥ 3 and N ≥ 2, got V = {V}, N = {N}"
        )
    if (label_pivot is None) != (left_out_label is None):
        raise ConfigError("label_pivot and left_out_label: expected both or neither")
    searched_labels = label_pivot is None
    if not searched_labels:
        k = _index("label_pivot", label_pivot, V)
        lo = _index("left_out_label", left_out_label, V)
        if k == lo:
            raise ConfigError(f"left_out_label must differ from label_pivot, got {k} for both")
    sets, searched_inputs = _candidate_sets(
        key, N, max(p.width, q.width) + 1, num_samples, input_set, input_sets
    )

    F1, G1, F2, G2 = p.embeddings, p.unembeddings, q.embeddings, q.unembeddings
    L1, L2, A, B = _label_points(F1, G1, F2, G2, log_likelihood_dtype == "float32")
    pivot_scores = None
    if searched_labels:
        # Chunk the pivots so a chunk's (K, V, r) temporaries stay cache-sized (~2 MiB).
        batch = max(1, min(V, (1 << 18) // max(1, V * A.shape[1])))
        pivot_scores, los, smallest = _label_search(A, B, batch=batch)
        if not float(jnp.min(smallest)) > 0.0:
            raise RankError(_twin_message("label", "pivot label", "inputs"))
        k = int(jnp.argmin(pivot_scores))  # first minimiser, as their row-major scan
        lo = int(los[k])
    t1, t3, smallest = _label_terms(A, B, jnp.asarray(k), jnp.asarray(lo), float(N))
    if not float(smallest) > 0.0:
        raise RankError(_twin_message("label", f"label pivot {k}", "inputs"))

    t2s, t4s, smallest_in = _input_terms(L1, L2, jnp.asarray(sets))
    if not float(jnp.min(smallest_in)) > 0.0:
        raise RankError(_twin_message("input", "input pivot", "labels"))
    score = t2s if t2_cap is None else jnp.minimum(t2s, float(t2_cap))
    c = int(jnp.argmin(score)) if searched_inputs else 0
    t1, t2, t3, t4 = float(t1), float(t2s[c]), float(t3), float(t4s[c])
    return DLLV(
        value=t1 + t2 + weight * (t3 + t4),
        t1=t1,
        t2=t2,
        t3=t3,
        t4=t4,
        weight=weight,
        label_pivot=k,
        left_out_label=lo,
        input_set=jnp.asarray(sets[c]),
        pivot_scores=pivot_scores,
        candidate_sets=jnp.asarray(sets) if searched_inputs else None,
        candidate_scores=t2s if searched_inputs else None,
    )


def _twin_message(kind: str, pivot: str, over: str) -> str:
    return (
        f"a {kind} whose log-likelihood variation over the {over} equals that of its {pivot} "
        "(σ = 0 in p or q): expected every compared pair to differ, e.g. no duplicated "
        f"{'tokens' if kind == 'label' else 'contexts'}"
    )
