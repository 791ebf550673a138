"""The laboratory (docs/theory.md §8, §10): controlled distributions, models, training and the
experiments that test the theory on trained models.

| part | what it is |
|---|---|
| `data/` | controlled distributions with known truth: lowrank, markov, hmm, morphology |
| `models/` | Flax NNX next-token models, exported to a `Predictor` |
| `train/` | the functional training loop, seeds vectorised, checkpoints |
| `reproduce` | `idlin reproduce`: the paper's experiment end to end (the embedded config) |
| `study/` | `idlin study`: K seeds in one program, analysed with `vmap(analyze)` |
| `sweep/` | `idlin sweep`: a grid of trainings, sharded, resumable |
| `experiments` | trained models against their truth (`python -m idlin.lab.experiments`) |

It builds on the core and the properties; nothing below it imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core._lazy import lazy_namespace

__all__, __getattr__, __dir__ = lazy_namespace(
    __name__,
    globals(),
    {},
    ("data", "models", "train", "reproduce", "study", "sweep", "experiments"),
)

if TYPE_CHECKING:
    from . import data as data
    from . import experiments as experiments
    from . import models as models
    from . import reproduce as reproduce
    from . import study as study
    from . import sweep as sweep
    from . import train as train
