"""Functional training of Flax NNX next-token models, K seeds vectorised, resumable (docs/theory.md
§8).

One driver (`chunk_runner`, `run_chunks`), one key schedule (`seed_keys`, `init_key`,
`step_key`) and one atomic checkpoint format serve both `train` and `idlin.lab.sweep`.

Names load on first use (`idlin.core._lazy`), so `idlin sweep --status` and `sweep-summary`
import neither flax nor optax.
"""

from ...core._lazy import lazy_namespace

_EXPORTS = {
    "Checkpoint": "._checkpoint",
    "load_checkpoint": "._checkpoint",
    "save_checkpoint": "._checkpoint",
    "remove_checkpoint": "._checkpoint",
    "remove_temporaries": "._checkpoint",
    "restore": "._checkpoint",
    "TrainConfig": "._config",
    "chunk_runner": "._driver",
    "init_runner": "._driver",
    "run_chunks": "._driver",
    "SWEEP_ROOT": "._keys",
    "init_key": "._keys",
    "seed_keys": "._keys",
    "step_key": "._keys",
    "stream_key": "._keys",
    "owned": "._placement",
    "pad_seeds": "._placement",
    "process_share": "._placement",
    "replicated": "._placement",
    "seed_sharding": "._placement",
    "TrainData": "._step",
    "TrainState": "._step",
    "hyperparameters": "._step",
    "init_states": "._step",
    "learning_rate_at": "._step",
    "make_data": "._step",
    "make_init": "._step",
    "make_optimizer": "._step",
    "make_step": "._step",
    "unstack": "._step",
    "TrainResult": "._train",
    "train": "._train",
}

__all__, __getattr__, __dir__ = lazy_namespace(__name__, globals(), _EXPORTS)
