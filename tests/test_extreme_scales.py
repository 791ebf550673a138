"""`equivalent` and the relative gap at extreme logit scales (issue 25): never a wrong verdict.

Logits of size 1e-300..1e300 (float64) and 1e-30..1e30 (float32 with x64 off) used to overflow
(a 5%-perturbed pair "equivalent", NaN gaps) or underflow (a zero gap) in the Frobenius gap's
squares; `_gap._diff_norms` now scales both sides by powers of two (exact). The reference is the
relative gap of the unscaled matrices in NumPy float64 (it does not depend on the scale).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import idlin

rng = np.random.default_rng(7)
F0, G0 = rng.normal(size=(6, 3)), rng.normal(size=(9, 3))
M = rng.normal(size=(3, 3)) + 3 * np.eye(3)


def _reference_relative(F1, G1, F2, G2) -> float:
    C1 = F1 @ (G1 - G1.mean(axis=0)).T
    C2 = F2 @ (G2 - G2.mean(axis=0)).T
    return float(np.linalg.norm(C1 - C2) / np.linalg.norm(C1))


PERTURBED = (F0 * 1.05, G0)
EQUIVALENT = (F0 @ M, G0 @ np.linalg.inv(M).T + 2.0)


@pytest.mark.parametrize("log_logit", [*range(-300, 301, 20), -307, 307])
@pytest.mark.parametrize("split", [0.5, 0.1])  # logit = F·G with F's share `split` of the scale
def test_float64_verdicts_and_relative_gap_at_any_scale(log_logit, split):
    sf, sg = 10.0 ** (log_logit * split), 10.0 ** (log_logit * (1 - split))
    p = idlin.Predictor(F0 * sf, G0 * sg)
    q_eq = idlin.Predictor(EQUIVALENT[0] * sf, EQUIVALENT[1] * sg)
    q_ne = idlin.Predictor(PERTURBED[0] * sf, PERTURBED[1] * sg)
    assert bool(idlin.equivalent(p, q_eq)) is True
    assert bool(idlin.equivalent(p, q_ne)) is False
    want = _reference_relative(F0, G0, *PERTURBED)
    got = idlin.distribution_gap(p, q_ne, frobenius_only=True).relative
    assert abs(got - want) <= 1e-10 * want
    assert idlin.compare(p, q_ne).equivalent is False


def test_absolute_tolerance_is_scaled_too():
    """`atol` compares with the true ‖ΔC‖ even where it overflows the scaled units."""
    p = idlin.Predictor(F0 * 1e150, G0 * 1e150)
    q = idlin.Predictor(PERTURBED[0] * 1e150, PERTURBED[1] * 1e150)
    gap = _reference_relative(F0, G0, *PERTURBED) * np.linalg.norm(
        F0 @ (G0 - G0.mean(axis=0)).T
    )  # ‖ΔC‖ of the unscaled pair; the scaled one is 1e300 times that
    assert bool(idlin.equivalent(p, q, rtol=0.0, atol=gap * 1e300 * 1.01)) is True
    assert bool(idlin.equivalent(p, q, rtol=0.0, atol=gap * 1e300 * 0.99)) is False
    tiny = idlin.Predictor(F0 * 1e-150, G0 * 1e-150)
    tiny_q = idlin.Predictor(PERTURBED[0] * 1e-150, PERTURBED[1] * 1e-150)
    assert bool(idlin.equivalent(tiny, tiny_q, rtol=0.0, atol=1e-310)) is False
    assert bool(idlin.equivalent(tiny, tiny_q, rtol=0.0, atol=1e300)) is True


_FLOAT32 = """
import json, sys, jax, numpy as np, idlin
assert not jax.config.jax_enable_x64
F0, G0, FP, GP, FE, GE = (np.asarray(a) for a in json.loads(sys.stdin.read()))
out = []
for k in range(-30, 31, 2):
    for split in (0.5, 0.1):
        sf, sg = 10.0 ** (k * split), 10.0 ** (k * (1 - split))
        mk = lambda F, G: idlin.Predictor((F * sf).astype(np.float32), (G * sg).astype(np.float32))
        p, qe, qn = mk(F0, G0), mk(FE, GE), mk(FP, GP)
        rel = float(idlin.distribution_gap(p, qn, frobenius_only=True).relative)
        out.append([k, split, bool(idlin.equivalent(p, qe)), bool(idlin.equivalent(p, qn)), rel])
print(json.dumps(out))
"""


def test_float32_verdicts_at_any_scale_with_x64_off():
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    arrays = [F0, G0, *PERTURBED, *EQUIVALENT]
    proc = subprocess.run(
        [sys.executable, "-c", _FLOAT32],
        input=json.dumps([a.tolist() for a in arrays]),
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    want = _reference_relative(F0, G0, *PERTURBED)
    rows = json.loads(proc.stdout)
    assert len(rows) == 62
    for k, split, eq, ne, rel in rows:
        # float32 inputs: the stored matrices are rounded, so the gap is the reference's
        # to float32 accuracy (relative 1e-5), never 0, NaN or a different verdict.
        assert eq is True and ne is False, (k, split, eq, ne, rel)
        assert abs(rel - want) <= 1e-4 * want, (k, split, rel, want)
