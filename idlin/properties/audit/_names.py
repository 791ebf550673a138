"""The catalogue's measure names and what each reads, without importing JAX (the CLI lists them
in `idlin audit --help`; `_catalogue` builds them)."""

from __future__ import annotations

# Measures that read every row of C, in canonical coordinates (`_catalogue` docstring).
CANONICAL = ("identifiable_margin", "identifiable_steering", "identifiable_faithfulness")

# name → (description, needs a diverse model). The order is the report card's.
MEASURES: dict[str, tuple[str, bool]] = {
    "raw_cosine": ("raw cosine of two embedding differences", False),
    "embedding_norm": ("norm of an embedding ‖f(x)‖", False),
    "raw_parallelism": ("raw parallelism σ₂/σ₁ (emb.)", False),
    "identifiable_parallelism": (
        "identifiable parallelism σ₂/σ₁ (rows of C)",
        False,
    ),
    "raw_margin": ("raw probe margin (emb., max-margin probe)", False),
    "identifiable_margin": ("identifiable probe margin (rows of C)", False),
    "raw_steering": ("raw steering distance of δ from col Ĝ", False),
    "identifiable_steering": ("identifiable steering distance of δ from rowspace C", False),
    "raw_faithfulness": ("raw relational faithfulness (mean KL, emb.)", False),
    "identifiable_faithfulness": ("identifiable relational faithfulness (mean KL)", False),
    "mcca_embeddings": ("m_CCA of embeddings against a fixed reference", False),
    "mcca_unembeddings": ("m_CCA of unembeddings against a fixed reference", False),
    "cka_embeddings": ("linear CKA of embeddings against a fixed reference", False),
    "d_rep_second": ("d_rep(ref, p) (audited model second)", False),
    "d_rep_first": ("d_rep(p, ref) (audited model first; diverse model)", True),
    "d_logit": ("d_logit against a fixed reference", False),
    "m_svd": ("m_SVD against a fixed reference", False),
    "causal_cosine": ("causal-inner-product cosine of two unembedding differences", False),
    "log_odds_norm": ("‖C‖_F (a function of C)", False),
}


# Measures that read the context pairs (`--pairs`): embedding_norm reads the first pair's first
# context.
PAIR_MEASURES = (
    "raw_cosine",
    "embedding_norm",
    "raw_parallelism",
    "identifiable_parallelism",
    "raw_faithfulness",
    "identifiable_faithfulness",
)

# Measures against a fixed reference model (`--reference`).
REFERENCE_MEASURES = (
    "mcca_embeddings",
    "mcca_unembeddings",
    "cka_embeddings",
    "d_rep_second",
    "d_rep_first",
    "d_logit",
    "m_svd",
)
