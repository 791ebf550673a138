"""Morphology truth from real English adjectives: *easy→easiest ∥ lucky→luckiest* (docs/theory.md
§6, §7).

Contexts are `(marker, lemma)`: a marker token `<positive>`, `<comparative>` or `<superlative>`
followed by the base form of an adjective; the next token is a word form. Lemma and inflection
contribute **additively** to the log-odds,

    log p*(y | marker k, lemma a) = β·[lemma(y) = a] + α·[inflection(y) = k] + const(x),

so the identifiable differences are planted parallel: for every lemma `a`,
`C*[(sup, a), :] − C*[(pos, a), :] = α·([infl = sup] − [infl = pos])` is the same vector (contexts),
and `C*[:, easiest] − C*[:, easy]` is the same column difference for every lemma (tokens).
Comparatives and superlatives come from the `lemminflect` package (offline lookup tables).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...core._errors import ConfigError
from ._truth import Truth, make_truth

INFLECTIONS = ("positive", "comparative", "superlative")
DEFAULT_ADJECTIVES = (
    "easy", "lucky", "happy", "big", "small", "fast", "slow", "tall",
    "young", "old", "strong", "weak", "warm", "cold", "bright", "dark",
)  # fmt: skip


def inflect(adjective: str) -> tuple[str, str, str]:
    """(positive, comparative, superlative) forms of an English adjective, via `lemminflect`.

    Raises:
        ConfigError: the adjective is unknown to lemminflect's tables or has no single-word
            comparative and superlative (e.g. "beautiful": "more beautiful").
    """
    from lemminflect import getAllInflections

    forms = getAllInflections(adjective, upos="ADJ")
    if not {"JJR", "JJS"} <= forms.keys():
        raise ConfigError(
            f"adjective {adjective!r}: expected an English adjective with single-word comparative "
            f"and superlative forms in lemminflect's tables, got forms {dict(forms)}"
        )
    return adjective, forms["JJR"][0], forms["JJS"][0]


@dataclasses.dataclass(frozen=True, eq=False)
class MorphologyTruth(Truth):
    """The morphology truth (`name="morphology"`), with the strings behind every id.

    Attributes (beyond `Truth`'s):
        tokens: (V,) the vocabulary: `3m` word forms (lemma-major: `easy, easier, easiest, ...`)
            followed by the three marker tokens `<positive>`, `<comparative>`, `<superlative>`.
        lemmas: (m,) the adjectives, base forms.
        inflections: `INFLECTIONS`.
        context_pairs: (N,) the `(lemma, inflection)` each context asks for; context
            `(<k>, a)` is row `3·i(a) + i(k)`.
        token_pairs: (V,) the `(lemma, inflection)` of each word form, None for markers.
        lemma_strength: β; inflection_strength: α (log-odds units).
    """

    tokens: tuple[str, ...] = ()
    lemmas: tuple[str, ...] = ()
    inflections: tuple[str, ...] = INFLECTIONS
    context_pairs: tuple[tuple[str, str], ...] = ()
    token_pairs: tuple[tuple[str, str] | None, ...] = ()
    lemma_strength: float = 0.0
    inflection_strength: float = 0.0

    def context_index(self, lemma: str, inflection: str) -> int:
        """Row of the context `(<inflection>, lemma)`."""
        return self.context_pairs.index(self._check(lemma, inflection))

    def token_index(self, lemma: str, inflection: str) -> int:
        """Vocabulary id of the form `inflection` of `lemma` (e.g. easy, superlative → easiest)."""
        return self.token_pairs.index(self._check(lemma, inflection))

    def _check(self, lemma: str, inflection: str) -> tuple[str, str]:
        if lemma not in self.lemmas:
            raise ConfigError(f"lemma: expected one of {self.lemmas}, got {lemma!r}")
        if inflection not in INFLECTIONS:
            raise ConfigError(f"inflection: expected one of {INFLECTIONS}, got {inflection!r}")
        return lemma, inflection

    def context_pairs_for(self, source: str, target: str) -> np.ndarray:
        """(m, 2) context rows `(x(a, source), x(a, target))` for every lemma a: the pairs whose
        embedding differences are planted parallel (e.g. positive → superlative)."""
        return np.array(
            [[self.context_index(a, source), self.context_index(a, target)] for a in self.lemmas]
        )

    def token_pairs_for(self, source: str, target: str) -> np.ndarray:
        """(m, 2) token ids `(form(a, source), form(a, target))`, e.g. (easy, easiest), whose
        unembedding differences are planted parallel."""
        return np.array(
            [[self.token_index(a, source), self.token_index(a, target)] for a in self.lemmas]
        )


def morphology_truth(
    *,
    adjectives: tuple[str, ...] | list[str] = DEFAULT_ADJECTIVES,
    lemma_strength: float = 4.0,
    inflection_strength: float = 3.0,
) -> MorphologyTruth:
    """The additive lemma + inflection truth over real English adjectives (docs/theory.md §6, §7).

    Factorised exactly: `f(<k>, a) = [β e_a ; α e_k]`, `g(form(b, j)) = [e_b ; e_j]`,
    `g(marker) = 0`, width `m + 3`, so `F Gᵀ = β[a = b] + α[k = j]`. The centered log-odds have
    rank `m + 2` (the two one-hot blocks share the all-ones direction); `rank` records the numerical
    rank of the exact `C*`.

    Args:
        adjectives: m ≥ 2 distinct English adjectives with -er/-est (or irregular) forms.
        lemma_strength: β > 0, log-odds bonus for forms of the context's lemma.
        inflection_strength: α > 0, log-odds bonus for forms of the asked inflection.

    Raises:
        ConfigError: fewer than 2 or repeated adjectives, an unknown adjective, non-positive
            strengths, or inflected forms that collide between adjectives.
    """
    lemmas = tuple(str(a) for a in adjectives)
    if len(lemmas) < 2 or len(set(lemmas)) != len(lemmas):
        raise ConfigError(f"adjectives: expected ≥ 2 distinct adjectives, got {lemmas}")
    if not (lemma_strength > 0 and inflection_strength > 0):
        raise ConfigError(
            f"strengths: expected β, α > 0, got {lemma_strength}, {inflection_strength}"
        )
    forms = [inflect(a) for a in lemmas]
    words = [w for f in forms for w in f]
    if len(set(words)) != len(words):
        raise ConfigError(f"adjectives: expected distinct word forms, got duplicates in {words}")
    markers = tuple(f"<{k}>" for k in INFLECTIONS)
    tokens = (*words, *markers)
    m, n_inf = len(lemmas), len(INFLECTIONS)
    token_pairs = tuple((a, k) for a in lemmas for k in INFLECTIONS) + (None,) * n_inf
    context_pairs = tuple((a, k) for a in lemmas for k in INFLECTIONS)
    marker_id = {k: len(words) + i for i, k in enumerate(INFLECTIONS)}
    contexts = np.array(
        [[marker_id[k], tokens.index(a)] for a, k in context_pairs], dtype=np.int32
    )  # (3m, 2)
    eye_l, eye_k = np.eye(m), np.eye(n_inf)
    F = np.array(
        [np.concatenate([lemma_strength * eye_l[i], inflection_strength * eye_k[j]])
         for i in range(m) for j in range(n_inf)]
    )  # (3m, m+3)  # fmt: skip
    G = np.zeros((len(tokens), m + n_inf))
    G[: 3 * m] = np.array(
        [np.concatenate([eye_l[i], eye_k[j]]) for i in range(m) for j in range(n_inf)]
    )
    base = make_truth("morphology", contexts, F, G, None)
    # The exact C* in float64 from the float64 factors, whatever precision the predictor holds
    # (float32 when JAX's x64 is off): rank and tolerance in one precision.
    C = F @ (G - G.mean(axis=0, keepdims=True)).T
    rank = int(np.linalg.matrix_rank(C))
    return MorphologyTruth(
        name="morphology",
        contexts=base.contexts,
        probs=base.probs,
        predictor=base.predictor,
        rank=rank,
        tokens=tokens,
        lemmas=lemmas,
        context_pairs=context_pairs,
        token_pairs=token_pairs,
        lemma_strength=float(lemma_strength),
        inflection_strength=float(inflection_strength),
    )
