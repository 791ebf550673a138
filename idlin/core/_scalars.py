"""Types of result fields that are Python numbers when computed eagerly and JAX arrays under
`jax.jit`/`jax.vmap` (`_analysis.to_host` converts only concrete results): one place for the
honest annotation, so a field typed `int` never hides the array it holds when traced."""

from jaxtyping import Array, Bool, Float, Int

# 0-d inside the traced function (batched outside a `vmap`); a Python number eagerly.
IntScalar = Int[Array, ""] | int
FloatScalar = Float[Array, ""] | float
BoolScalar = Bool[Array, ""] | bool
