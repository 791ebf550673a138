"""Export real language models as predictor files (`idlin export`, docs/theory.md §1).

`export_hf` runs a Hugging Face causal LM on N contexts and returns `F`, `G`, the bias and the
token/context names, checked against the model's own logits; `HFExport.save` writes an
`idlin.core.io` predictor file. torch and transformers are optional (`pip install 'idlin[hf]'`) and
imported only when an export runs.

Names load on first use (`idlin.core._lazy`): registering `idlin export` imports nothing heavy.
"""

from ...core._lazy import lazy_namespace

_EXPORTS = {
    "ExportError": "...core._errors",
    "MissingDependencyError": "...core._errors",
    "HFExport": "._hf",
    "export_hf": "._hf",
    "load_hf": "._load",
    "read_contexts": "._inputs",
    "read_token_ids": "._inputs",
}

__all__, __getattr__, __dir__ = lazy_namespace(__name__, globals(), _EXPORTS)
