"""`d²_logit`: the mean squared distance between centered log-odds (docs/theory.md §2, §8)."""

from __future__ import annotations

from .._gap import check_comparable, distribution_gap
from .._predictor import Predictor
from .._scalars import FloatScalar


def d_logit(p: Predictor, q: Predictor) -> FloatScalar:
    """Mean squared centered-logit difference `d²_logit(p, q) = ‖C_p − C_q‖²_F / N`.

    Symbols (docs/theory.md §8): `C = F Ĝᵀ` (N×V), so `d²_logit = (1/N) Σ_x ‖Ĝ_p f_p(x) − Ĝ_q
    f_q(x)‖²`,
    the mean squared Aitchison distance between the predictive distributions (Nielsen et al.,
    arXiv 2602.15438). The Frobenius norm comes from `idlin.distribution_gap(...,
    frobenius_only=True)` (the §2 QR form), so no N×V matrix is built. Returns the *squared*
    distance; `0` iff `p ~ q`; symmetric.

    Args:
        p, q: predictors on the same N contexts and V tokens (widths may differ).

    Returns:
        `d²_logit` as a float (nats² per context).

    Raises:
        IncompatibleError: different N or V.

    Example:
        >>> import numpy as np, idlin.core.metrics as m, idlin
        >>> p = idlin.Predictor(np.eye(3, 2), np.eye(4, 2))
        >>> q = idlin.Predictor(2 * np.eye(3, 2), np.eye(4, 2))
        >>> round(float(m.d_logit(p, q)), 6)  # ‖C‖²_F / 3 with ‖C‖²_F = 2 · (1 − 1/4)
        0.5
    """
    p, q = check_comparable(p, q)
    gap = distribution_gap(p, q, frobenius_only=True)
    return gap.frobenius**2 / p.num_contexts
