"""The exception hierarchy: one base class, one subclass per way an input can be wrong.

Every message says what was expected and what arrived, so that a user can fix the call
without reading idlin's source.
"""

from __future__ import annotations


class IdlinError(Exception):
    """Base class of every error idlin raises on purpose."""


class ArgumentError(IdlinError, TypeError):
    """An argument of the wrong kind: not a Predictor, not a Property, not a number, not a key."""


class ShapeError(IdlinError, ValueError):
    """An array has the wrong number of dimensions, is empty, or its sizes disagree."""


class DTypeError(IdlinError, TypeError):
    """An array has a dtype idlin does not compute with (it wants float32 or float64)."""


class NonFiniteError(IdlinError, ValueError):
    """An array contains NaN or ±Inf."""


class IncompatibleError(IdlinError, ValueError):
    """Two predictors cannot be compared: different vocabularies or context sets."""


class NotDiverseError(IdlinError, ValueError):
    """Theorem L needs diverse models (rank F = rank Ĝ = d); this one is not (docs/theory.md
    §3–§4)."""


class RankError(IdlinError, ValueError):
    """A rank or tolerance problem: zero effective complexity, an unusable threshold, a rank
    request the model cannot meet."""


class ProbeError(IdlinError, ValueError):
    """A probe set (pairs, labels, steering vector) that cannot define the property asked for."""


class ConfigError(IdlinError, ValueError):
    """A configuration of a distribution, model, training run or sweep that cannot work."""


class FileFormatError(IdlinError, ValueError):
    """A file that is missing, unreadable, pickled, or lacks the keys and shapes idlin needs."""


class OutputError(IdlinError, OSError):
    """An output location that cannot be used: read-only, not a directory, or locked by another
    run."""


class ExportError(IdlinError, ValueError):
    """A model that cannot be exported as `softmax(f·g)` (no linear LM head, final-logit
    soft-capping, logits the exported matrices do not reproduce), or export input it cannot use."""


class MissingDependencyError(IdlinError, ImportError):
    """An optional dependency is not installed (torch and transformers for `idlin export`:
    `pip install 'idlin[hf]'`)."""
