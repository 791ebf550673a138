"""The identifiability core (docs/theory.md §1–§5, §8): matrices in, facts about the distribution
out.

It imports only jax, numpy and scipy (tests/test_api.py), so it serves matrices exported from any
framework. One module per idea:

| docs/theory.md | module |
|---|---|
| §1 the model, a predictor's file | `_predictor`, `io` |
| §2 the distribution gap, equivalence | `_gap`, `_gram` (float64 Grams on the host) |
| §3 ranks, the one decomposition, the tolerance policy | `_analysis`, `_precision`, `_subspaces` |
| §4 maps between members | `_maps` |
| §5 the class of equivalent models | `_classes` |
| §8 near-equivalence, the one comparison | `metrics/`, `_compare` |

Shared plumbing: `_errors` (every `IdlinError`), `_checks` (input validation), `_paths` (atomic
writes), `_lazy` (lazy namespaces), `_serial`/`_scalars` (host values), `_deprecation`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_namespace

__all__, __getattr__, __dir__ = lazy_namespace(__name__, globals(), {}, ("io", "metrics"))

if TYPE_CHECKING:
    from . import io as io
    from . import metrics as metrics
