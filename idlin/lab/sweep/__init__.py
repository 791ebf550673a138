"""Sweeps: grid × seeds of (train → evaluate), seeds vectorised with `jax.vmap`, the seed axis
sharded over local devices, grid points split over `jax.distributed` processes, results in a
resumable SQLite store (docs/theory.md §8). See `docs/sweeps.md`.

Names load on first use (`idlin.core._lazy`), so registering `idlin sweep` on the command line
imports no JAX."""

from ...core._lazy import lazy_namespace

_EXPORTS = {
    "bilinear_fns": "._architectures",
    "train_config": "._architectures",
    "GridPoint": "._config",
    "read_toml": "._config",
    "exclusive": "._lock",
    "SweepConfig": "._config",
    "load_config": "._config",
    "parse_config": "._config",
    "architectures": "._registry",
    "build_program": "._registry",
    "register_architecture": "._registry",
    "SweepRun": "._runner",
    "owned_points": "._runner",
    "run_sweep": "._runner",
    "Record": "._store",
    "ResultsStore": "._store",
    "ensure_directory": "._store",
    "PointStatus": "._summary",
    "SummaryRow": "._summary",
    "SweepStatus": "._summary",
    "plot_summary": "._summary",
    "summarize": "._summary",
    "summarize_records": "._summary",
    "sweep_status": "._summary",
    "Program": "._trial",
    "make_truth": "._trial",
    "truth_metrics": "._trial",
}

__all__, __getattr__, __dir__ = lazy_namespace(__name__, globals(), _EXPORTS)
