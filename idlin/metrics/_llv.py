"""`m_SVD` and `d_LLV` on pivot-normalised log-likelihood variations (THEORY §8).

After Nielsen, Marconato, Dittadi & Gresele (NeurIPS 2025, "When does closeness in distribution
imply representational similarity?"). The paper's exact formulas were not available to this
implementation; what is computed is the reading of THEORY §8 stated precisely below, and it may
differ from the paper in normalisation details (see each docstring).

Both start from *pivot log-odds*, which are functions of the distribution alone:
- over labels, for each input: `ℓ(x) = [log p(y|x) − log p(π|x)]_{y∈S} = (G_S − 1 g(π)ᵀ) f(x)`
  for a pivot token `π` and a set `S` of k other tokens (N×k);
- over inputs, for each label: `κ(y) = [C[x_j, y] − C[x₀, y]]_{j∈T} = (F_T − 1 f(x₀)ᵀ) ĝ(y)`
  for a pivot context `x₀` and a set `T` of m other contexts (V×m). Using `C` (THEORY §2) rather
  than `log p` drops the per-context normaliser, a constant per column.
No N×V matrix is formed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._errors import ConfigError, RankError
from .._gap import check_comparable
from .._predictor import Predictor, center_rows
from ._pivots import candidates, check_pivot, sample_pivots


def label_pivot_log_odds(F, G, pivot, labels):
    """`ℓ(x)` stacked: (N, k), entry `[x, j] = log p(S_j|x) − log p(π|x)`."""
    return F @ (G[labels] - G[pivot][None, :]).T


def input_pivot_log_odds(F, G, pivot, inputs):
    """`κ(y)` stacked: (V, m), entry `[y, j] = C[T_j, y] − C[x₀, y]`."""
    Gh = center_rows(G)
    return Gh @ (F[inputs] - F[pivot][None, :]).T


def _draw(key, size: int, k: int | None, default_k: int, pivot, subset, name: str):
    """One `(pivot, set)` draw: given explicitly, or sampled from `key`."""
    if subset is not None:
        chosen = candidates(f"{name}s", subset, size, 1)
        if pivot is None:
            raise ConfigError(f"{name}s given explicitly: expected a pivot {name} as well")
        if int(pivot) in set(chosen.tolist()):
            raise ConfigError(f"{name}s must not contain the pivot {pivot}")
        check_pivot(f"pivot_{name}", pivot, np.arange(size))
        return jnp.asarray(int(pivot), jnp.int32), jnp.asarray(chosen)
    k = default_k if k is None else int(k)
    if not 1 <= k <= size - 1:
        raise ConfigError(f"number of {name}s: expected 1 ≤ k ≤ {size - 1}, got {k}")
    cand = np.arange(size, dtype=np.int32)
    check_pivot(f"pivot_{name}", pivot, cand)
    piv, sets = sample_pivots(key, cand, k, 1, pivot)
    return piv[0], sets[0]


@dataclasses.dataclass(frozen=True)
class MSVD:
    """`m_SVD(p, q)`: mean singular value of the cross-correlation of pivot log-odds.

    Attributes:
        value: `(1/k) Σ σ_i(R)` in [0, 1]; 1 for equivalent models.
        singular_values: (k,) `σ_i(R)`, descending.
        pivot: the pivot token π.
        labels: (k,) the token set S.
    """

    value: float
    singular_values: Float[Array, " k"]
    pivot: int
    labels: Int[Array, " k"]


def _zscore(Z):
    Zc = Z - jnp.mean(Z, axis=0, keepdims=True)
    sd = jnp.sqrt(jnp.mean(Zc**2, axis=0, keepdims=True))
    return Zc / jnp.where(sd > 0, sd, 1.0), sd[0]


@jax.jit
def _msvd_kernel(F1, G1, F2, G2, pivot, labels):
    Z1, sd1 = _zscore(label_pivot_log_odds(F1, G1, pivot, labels))
    Z2, sd2 = _zscore(label_pivot_log_odds(F2, G2, pivot, labels))
    R = Z1.T @ Z2 / F1.shape[0]  # (k, k) cross-correlation
    return jnp.linalg.svd(R, compute_uv=False), jnp.minimum(jnp.min(sd1), jnp.min(sd2))


def m_svd(
    p: Predictor,
    q: Predictor,
    *,
    key: PRNGKeyArray,
    num_labels: int | None = None,
    pivot: int | None = None,
    labels: Sequence[int] | None = None,
) -> MSVD:
    """Mean singular value of the cross-correlation of standardised pivot log-odds (THEORY §8).

    What is implemented: `ℓ_p`, `ℓ_q` (N×k, module docstring) for one pivot token `π` and label
    set `S` shared by both models; each column z-scored over the N contexts
    (`Z = (ℓ − mean_x ℓ) / sd_x ℓ`, population sd); `R = Z_pᵀ Z_q / N` (k×k) and

        m_SVD = (1/k) Σ_i σ_i(R) = ‖R‖_* / k ∈ [0, 1].

    For `p ~ q`, `R` is the correlation matrix of `ℓ_p` (PSD, unit diagonal), so `m_SVD = tr R/k
    = 1` exactly; `‖R‖_* ≤ ‖Z_p‖_F‖Z_q‖_F/N = k` bounds it by 1. Symmetric. Possible differences
    from Nielsen et al. (NeurIPS 2025): their normalisation of the pivot log-odds (this
    standardises per label coordinate, not by whitening — whitening would make the score
    invariant to every linear map and equal `m_CCA` of the embeddings) and their choice of `k`.

    Args:
        p, q: predictors on the same contexts and vocabulary (widths may differ).
        key: PRNG key for `π` and `S` when not given (keyword-only).
        num_labels: k (default `min(V − 1, max(d_p, d_q))`).
        pivot: the pivot token (default: drawn).
        labels: the set S explicitly (then `pivot` is required).

    Raises:
        IncompatibleError: different N or V.
        ConfigError: bad k, pivot or labels.
        RankError: a pivot log-odds coordinate constant over contexts in p or q (its correlation
            is undefined; choose other labels).
    """
    p, q = check_comparable(p, q)
    default_k = min(p.vocab_size - 1, max(p.width, q.width))
    piv, S = _draw(key, p.vocab_size, num_labels, default_k, pivot, labels, "label")
    sv, min_sd = _msvd_kernel(p.embeddings, p.unembeddings, q.embeddings, q.unembeddings, piv, S)
    if not float(min_sd) > 0:
        raise RankError(
            "a pivot log-odds coordinate log p(y|x) − log p(π|x) is constant over contexts: "
            f"expected variation to correlate (pivot {int(piv)}, labels {np.asarray(S).tolist()})"
        )
    return MSVD(value=float(jnp.mean(sv)), singular_values=sv, pivot=int(piv), labels=S)


@dataclasses.dataclass(frozen=True)
class DLLV:
    """`d_LLV(p, q)` and its two terms (see `d_llv`).

    Attributes:
        value: `max(label_term, input_term)`; 0 iff the pivot log-odds agree.
        label_term: shape + λ·scale over labels (from `ℓ`, per input).
        input_term: shape + λ·scale over inputs (from `κ`, per label).
        pivot_label, labels: π and S.
        pivot_input, inputs: x₀ and T.
    """

    value: float
    label_term: float
    input_term: float
    pivot_label: int
    labels: Int[Array, " k"]
    pivot_input: int
    inputs: Int[Array, " m"]


def _term(A, B, lam):
    """Shape `mean((A/s_A − B/s_B)²)` + `λ · mean((log s_A − log s_B)²)`, `s` the RMS per column."""
    sa = jnp.sqrt(jnp.mean(A**2, axis=0))
    sb = jnp.sqrt(jnp.mean(B**2, axis=0))
    shape = jnp.mean((A / sa[None, :] - B / sb[None, :]) ** 2)
    scale = jnp.mean((jnp.log(sa) - jnp.log(sb)) ** 2)
    return shape + lam * scale, jnp.minimum(jnp.min(sa), jnp.min(sb))


@jax.jit
def _dllv_kernel(F1, G1, F2, G2, pl, S, px, T, lam):
    lab, ok_l = _term(label_pivot_log_odds(F1, G1, pl, S), label_pivot_log_odds(F2, G2, pl, S), lam)
    inp, ok_i = _term(input_pivot_log_odds(F1, G1, px, T), input_pivot_log_odds(F2, G2, px, T), lam)
    return lab, inp, jnp.minimum(ok_l, ok_i)


def d_llv(
    p: Predictor,
    q: Predictor,
    *,
    key: PRNGKeyArray,
    lam: float = 1.0,
    num_labels: int | None = None,
    num_inputs: int | None = None,
    pivot_label: int | None = None,
    labels: Sequence[int] | None = None,
    pivot_input: int | None = None,
    inputs: Sequence[int] | None = None,
) -> DLLV:
    """A d_LLV-style distance between pivot-normalised log-likelihood variations (THEORY §8).

    What is implemented (a reading of THEORY §8's description of Nielsen, Marconato, Dittadi &
    Gresele, NeurIPS 2025; their exact normalisation may differ): with `ℓ_i` (N×k) and `κ_i`
    (V×m) the pivot log-odds of model i over labels and over inputs (module docstring), and for
    a pair of such matrices `A, B` with column RMS `s_A, s_B`,

        D(A, B) = mean_{rows, cols} (A/s_A − B/s_B)²  +  λ · mean_cols (log s_A − log s_B)²,
        d_LLV(p, q) = max( D(ℓ_p, ℓ_q), D(κ_p, κ_q) ).

    The first part compares the shape of the variations, the λ-weighted part their scale. No
    centering, so `d_LLV = 0` iff `ℓ_p = ℓ_q` and `κ_p = κ_q` on the drawn pivots: in particular
    for `p ~ q`. Symmetric. One `(π, S)` and one `(x₀, T)` draw from `key` unless given.

    Args:
        p, q: predictors on the same contexts and vocabulary (widths may differ).
        key: PRNG key for the pivots and sets not given (keyword-only).
        lam: weight λ ≥ 0 of the scale terms.
        num_labels: k (default `min(V − 1, max(d_p, d_q))`).
        num_inputs: m (default `min(N − 1, max(d_p, d_q))`).
        pivot_label, labels: π and S explicitly (labels needs pivot_label).
        pivot_input, inputs: x₀ and T explicitly (inputs needs pivot_input).

    Raises:
        IncompatibleError: different N or V.
        ConfigError: `lam < 0`, N < 2, bad sizes, pivots or sets.
        RankError: a pivot log-odds column that is identically 0 in p or q (its scale is 0).
    """
    p, q = check_comparable(p, q)
    lam = float(lam)
    if not 0.0 <= lam < float("inf"):
        raise ConfigError(f"lam: expected a finite weight ≥ 0, got {lam}")
    if p.num_contexts < 2:
        raise ConfigError(
            f"d_llv needs a pivot context and another: expected N ≥ 2, got {p.num_contexts}"
        )
    width = max(p.width, q.width)
    kl, ki = jax.random.split(key)
    pl, S = _draw(
        kl, p.vocab_size, num_labels, min(p.vocab_size - 1, width), pivot_label, labels, "label"
    )
    px, T = _draw(
        ki, p.num_contexts, num_inputs, min(p.num_contexts - 1, width), pivot_input, inputs, "input"
    )
    lab, inp, min_scale = _dllv_kernel(
        p.embeddings,
        p.unembeddings,
        q.embeddings,
        q.unembeddings,
        pl,
        S,
        px,
        T,
        jnp.asarray(lam, p.dtype),
    )
    if not float(min_scale) > 0:
        raise RankError(
            "a pivot log-odds column is identically 0 (a label or input indistinguishable from "
            "its pivot): expected nonzero variation; choose other pivots"
        )
    lab, inp = float(lab), float(inp)
    return DLLV(
        value=max(lab, inp),
        label_term=lab,
        input_term=inp,
        pivot_label=int(pl),
        labels=S,
        pivot_input=int(px),
        inputs=T,
    )
