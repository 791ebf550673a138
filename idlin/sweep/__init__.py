"""Sweeps: grid × seeds of (train → evaluate), seeds vectorised, sharded, resumable (THEORY §8)."""

from ._config import GridPoint as GridPoint
from ._config import SweepConfig as SweepConfig
from ._config import load_config as load_config
from ._config import parse_config as parse_config
from ._runner import SweepRun as SweepRun
from ._runner import owned_points as owned_points
from ._runner import run_sweep as run_sweep
from ._store import Record as Record
from ._store import ResultsStore as ResultsStore
from ._trial import Program as Program
from ._trial import build_program as build_program
from ._trial import register_architecture as register_architecture
from ._trial import truth_predictor as truth_predictor
