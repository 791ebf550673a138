"""Functional training of Flax NNX next-token models, K seeds vectorised, resumable (THEORY §8)."""

from ._checkpoint import Checkpoints as Checkpoints
from ._config import TrainConfig as TrainConfig
from ._step import TrainData as TrainData
from ._step import TrainState as TrainState
from ._step import init_states as init_states
from ._step import make_data as make_data
from ._step import make_optimizer as make_optimizer
from ._step import make_runner as make_runner
from ._step import make_step as make_step
from ._step import seed_data_keys as seed_data_keys
from ._step import unstack as unstack
from ._train import TrainResult as TrainResult
from ._train import train as train
