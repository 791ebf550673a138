"""Sweeps: grid × seeds of (train → evaluate), seeds vectorised with `jax.vmap`, the seed axis
sharded over local devices, grid points split over `jax.distributed` processes, results in a
resumable SQLite store (THEORY §8). See `docs/sweeps.md`."""

from ._config import GridPoint as GridPoint
from ._config import SweepConfig as SweepConfig
from ._config import load_config as load_config
from ._config import parse_config as parse_config
from ._registry import architectures as architectures
from ._registry import build_program as build_program
from ._registry import register_architecture as register_architecture
from ._runner import SweepRun as SweepRun
from ._runner import owned_points as owned_points
from ._runner import run_sweep as run_sweep
from ._store import Record as Record
from ._store import ResultsStore as ResultsStore
from ._summary import PointStatus as PointStatus
from ._summary import SummaryRow as SummaryRow
from ._summary import SweepStatus as SweepStatus
from ._summary import plot_summary as plot_summary
from ._summary import summarize as summarize
from ._summary import summarize_records as summarize_records
from ._summary import sweep_status as sweep_status
from ._trial import Program as Program
from ._trial import make_truth as make_truth
from ._trial import truth_metrics as truth_metrics
