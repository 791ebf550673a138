"""Suite-wide settings: float64, strict dtype promotion, no rank broadcasting, profiles."""

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")

from idlin.testing._profiles import register_profiles  # noqa: E402

register_profiles()

# Real-model fixtures (SmolLM2 from GGUF; skipped with a reason when the file is absent).
from _real_lm import (  # noqa: E402, F401
    smollm2,
    smollm2_export,
    smollm2_gguf,
    smollm2_prefix_export,
)
