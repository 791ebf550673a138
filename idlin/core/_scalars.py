"""Types of 0-d result fields: one place for the honest annotation. The core's pytrees
(`Analysis`, `Gap`, `Subspaces`, the maps) hold JAX arrays in every mode — eager, `jax.jit`,
`jax.vmap` (batched there) — and only the report and the CLI turn them into Python numbers. The
union with a Python number is for the fields that are host-level by design (`Canonical.rank`, which
fixes shapes eagerly; `d_logit` called eagerly). Host-level too, with Python numbers: `Comparison`
(a string verdict), `PropertyResult` (NNLS and controls on the host) and the reproducibility
metrics of `idlin.core.metrics` other than `d_logit` (ranks, pivots and sample validity are
decided on the host, so they are not traceable)."""

from jaxtyping import Array, Bool, Float, Int

IntScalar = Int[Array, ""] | int
FloatScalar = Float[Array, ""] | float
BoolScalar = Bool[Array, ""] | bool
