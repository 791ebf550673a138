"""`d²_rep`: the representational distance of Nielsen et al. with pivot-token maps (docs/theory.md
§8)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._errors import ConfigError, IncompatibleError
from .._gap import check_comparable
from .._predictor import Predictor
from ._pivots import candidates, check_pivot, sample_pivots


@dataclasses.dataclass(frozen=True)
class DRep:
    """`d²_rep(p, q)` and the pivot draws behind it (docs/theory.md §8).

    Attributes:
        value: mean of `per_sample` over the used draws (NaN if none was usable).
        per_sample: (m,) `(1/N) ‖F_p − F_q A_{p,S}ᵀ‖²_F` per draw, NaN where skipped.
        num_used: draws with `cond(L_p) ≤ max_condition`.
        num_skipped: draws skipped for an ill-conditioned (or singular) `L_p`.
        pivots: (m,) the pivot tokens.
        subsets: (m, d) the token sets S.
        condition_numbers: (m,) `cond(L_p)` (2-norm) per draw.
    """

    value: float
    per_sample: Float[Array, " m"]
    num_used: int
    num_skipped: int
    pivots: Int[Array, " m"]
    subsets: Int[Array, "m d"]
    condition_numbers: Float[Array, " m"]


@functools.partial(jax.jit, static_argnames=("batch",))
def rep_kernel(F1, G1, F2, G2, pivots, subsets, max_condition, *, batch: int):
    """Per-draw condition numbers of `L₁` and `(1/N)‖F₁ − F₂ Aᵀ‖²_F`, `A = L₁⁻¹ L₂`."""

    def one(args):
        piv, S = args
        L1 = G1[S] - G1[piv][None, :]  # (d, d): rows ĝ₁(y) − ĝ₁(p), y ∈ S
        L2 = G2[S] - G2[piv][None, :]
        s = jnp.linalg.svd(L1, compute_uv=False)
        cond = jnp.where(s[-1] > 0, s[0] / s[-1], jnp.inf)
        ok = cond <= max_condition
        # Replace a skipped L₁ by I so the solve stays finite; its value is masked out below.
        A = jnp.linalg.solve(jnp.where(ok, L1, jnp.eye(L1.shape[0], dtype=L1.dtype)), L2)
        val = jnp.sum((F1 - F2 @ A.T) ** 2) / F1.shape[0]
        return cond, jnp.where(ok, val, jnp.nan)

    return jax.lax.map(one, (pivots, subsets), batch_size=batch)


def d_rep(
    p: Predictor,
    q: Predictor,
    *,
    key: PRNGKeyArray,
    num_samples: int = 32,
    pivot: int | None = None,
    tokens: Sequence[int] | None = None,
    max_condition: float = 1e6,
) -> DRep:
    """Representational distance `d²_rep(p, q) = E_{p,S} E_x ‖f_p(x) − A_{p,S} f_q(x)‖²`.

    Symbols (docs/theory.md §8; Nielsen et al., arXiv 2602.15438): a pivot token `π` and a set `S`
    of
    `d` other tokens; `L_i` is the d×d matrix with rows `g_i(y) − g_i(π)`, `y ∈ S` (centering
    cancels); `A_{π,S} = L_p⁻¹ L_q`. Because `L_i f_i(x)` are the pivot log-odds
    `log p_i(y|x) − log p_i(π|x)`, equivalent models give `L_p f_p = L_q f_q`, hence
    `f_p = A f_q` exactly: `d²_rep = 0` for every equivalent pair of one width whenever `L_p` is
    invertible. `L_p` is singular for every draw when `rank Ĝ_p < d` (not diverse); such draws
    are skipped, so d_rep says nothing about those models. Not symmetric; in units of `‖f_p‖²`.
    `(π, S)` are drawn uniformly (pivot uniform over `tokens`, S a uniform d-subset of the
    others) from `key`; draws whose `cond₂(L_p) > max_condition` are skipped and counted,
    never inverted. The expectation over x is the mean over the N contexts.

    Args:
        p: model 1 (the one whose `L` is inverted).
        q: model 2, same contexts, vocabulary and width d.
        key: JAX PRNG key for the draws (keyword-only).
        num_samples: number of `(π, S)` draws m ≥ 1.
        pivot: fix the pivot token (then only S is drawn).
        tokens: restrict π and S to these token indices (default: all V tokens).
        max_condition: skip draws with `cond(L_p)` above this (> 1).

    Returns:
        A `DRep` with the value, per-draw values, used/skipped counts and the draws.

    Raises:
        IncompatibleError: different N, V or width d.
        ConfigError: `num_samples < 1`, `max_condition ≤ 1`, fewer than d + 1 candidate tokens,
            bad token indices or a pivot outside them.

    Example:
        >>> import jax, numpy as np, idlin
        >>> from idlin.core.metrics import d_rep
        >>> rng = np.random.default_rng(0)
        >>> F, G, D = rng.normal(size=(9, 3)), rng.normal(size=(7, 3)), np.diag([1.0, 2.0, 3.0])
        >>> p, q = idlin.Predictor(F, G), idlin.Predictor(F @ D, G @ np.linalg.inv(D))
        >>> bool(d_rep(p, q, key=jax.random.key(0), num_samples=4).value < 1e-8)
        True
    """
    p, q = check_comparable(p, q)
    if p.width != q.width:
        raise IncompatibleError(
            f"d_rep maps f_q onto f_p by a d×d matrix: expected equal widths, got d={p.width} "
            f"and d={q.width}"
        )
    if int(num_samples) < 1:
        raise ConfigError(f"num_samples: expected ≥ 1, got {num_samples}")
    if not float(max_condition) > 1.0:
        raise ConfigError(
            f"max_condition: expected a condition-number bound > 1, got {max_condition}"
        )
    d = p.width
    cand = candidates("tokens", tokens, p.vocab_size, d + 1)
    check_pivot("pivot", pivot, cand)
    pivots, subsets = sample_pivots(key, cand, d, int(num_samples), pivot)
    cond, vals = rep_kernel(
        p.embeddings,
        p.unembeddings,
        q.embeddings,
        q.unembeddings,
        pivots,
        subsets,
        jnp.asarray(max_condition, p.dtype),
        batch=min(int(num_samples), 8),
    )
    used = np.isfinite(np.asarray(vals))
    num_used = int(used.sum())
    value = float(np.mean(np.asarray(vals)[used])) if num_used else float("nan")
    return DRep(
        value=value,
        per_sample=vals,
        num_used=num_used,
        num_skipped=int(num_samples) - num_used,
        pivots=pivots,
        subsets=subsets,
        condition_numbers=cond,
    )
