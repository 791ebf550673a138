"""Non-negative least squares, `min_{v ≥ 0} ‖E v − e‖₂` (Lawson & Hanson 1974, Algorithm NNLS).

The max-margin probe (`_probe.max_margin`) needs it for least-distance programming. SciPy's
compiled active-set solver updates one QR factorisation per step (O(rows × columns) each), where
a NumPy loop that re-solves least squares on the free set every step costs O(rows × free²) and
Python overhead per step: 594 s against well under a second at 1000 points in width 576.
"""

from __future__ import annotations

import numpy as np

from ..core._errors import ProbeError
from ..core._precision import nnls_max_iter


def nnls(E: np.ndarray, e: np.ndarray, *, max_iter: int | None = None) -> np.ndarray:
    """The solution `v ≥ 0` of `min ‖E v − e‖₂` by the active-set method of Lawson & Hanson
    (`scipy.optimize.nnls`, float64).

    Args:
        E: (m, n) matrix.
        e: (m,) right-hand side.
        max_iter: active-set steps allowed (default `nnls_max_iter(n)` of the precision
            policy, `10·n`; the method needs about one per support vector in practice).

    Raises:
        ProbeError: the active set did not settle within `max_iter` steps.
    """
    # Imported here: scipy.optimize costs ~37 MiB resident, which `idlin inspect` without a
    # probe would otherwise carry (issue 23's memory target).
    from scipy.optimize import nnls as _scipy_nnls

    E = np.asarray(E, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    steps = nnls_max_iter(E.shape[1]) if max_iter is None else int(max_iter)
    try:
        v, _ = _scipy_nnls(E, e, maxiter=steps)
    except RuntimeError as err:  # SciPy's only failure: the iteration limit
        raise ProbeError(
            f"max-margin probe: expected the NNLS active set to settle within {steps} steps, "
            f"got {err}"
        ) from None
    return v
