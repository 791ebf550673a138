"""Export real language models as predictor files (`idlin export`, docs/theory.md §1).

`export_hf` runs a Hugging Face causal LM on N contexts and returns `F`, `G`, the bias and the
token/context names, checked against the model's own logits; `HFExport.save` writes an
`idlin.io` predictor file. torch and transformers are optional (`pip install 'idlin[hf]'`) and
imported only when an export runs.
"""

from .._errors import ExportError as ExportError
from .._errors import MissingDependencyError as MissingDependencyError
from ._hf import HFExport as HFExport
from ._hf import export_hf as export_hf
from ._hf import load_hf as load_hf
from ._inputs import read_contexts as read_contexts
from ._inputs import read_token_ids as read_token_ids
