"""Functional training of Flax NNX next-token models, K seeds vectorised, resumable (THEORY §8).

One driver (`chunk_runner`, `run_chunks`), one key schedule (`seed_keys`, `init_key`,
`step_key`) and one atomic checkpoint format serve both `train` and `idlin.sweep`.
"""

from ._checkpoint import Checkpoint as Checkpoint
from ._checkpoint import load_checkpoint as load_checkpoint
from ._checkpoint import save_checkpoint as save_checkpoint
from ._config import TrainConfig as TrainConfig
from ._driver import chunk_runner as chunk_runner
from ._driver import init_runner as init_runner
from ._driver import run_chunks as run_chunks
from ._keys import SWEEP_ROOT as SWEEP_ROOT
from ._keys import init_key as init_key
from ._keys import seed_keys as seed_keys
from ._keys import step_key as step_key
from ._keys import stream_key as stream_key
from ._step import TrainData as TrainData
from ._step import TrainState as TrainState
from ._step import hyperparameters as hyperparameters
from ._step import init_states as init_states
from ._step import learning_rate_at as learning_rate_at
from ._step import make_data as make_data
from ._step import make_init as make_init
from ._step import make_optimizer as make_optimizer
from ._step import make_step as make_step
from ._step import unstack as unstack
from ._train import TrainResult as TrainResult
from ._train import train as train
