"""The main experiment on an embedded default: train, compare, recover, evaluate (docs/theory.md
§4–§8).

`reproduce(config)` trains a few small models on two controlled distributions — a low-rank
softmax truth (`idlin.lab.data.lowrank_truth`) and the morphology language of English adjectives
(`idlin.lab.data.morphology_truth`, *easy→easiest ∥ lucky→luckiest*) — and answers docs/theory.md
§8's question: do identifiable-form scores agree across seeds and widths while raw-form scores
scatter? For every trained model it reports the KL and relative gap to the truth, the numerical
rank of C against the truth's r, the canonical-coordinate fit (R²) and the Theorem EL map
residuals; between seeds the same; on the morphology language every property of docs/theory.md §6 in
raw and identifiable form, the all-or-none harness and the counterexamples of §7.4.
The CLI (`idlin reproduce`) is a thin layer that adds a progress display, the report and figures.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from ..core._analysis import Analysis
from ..core._compare import Comparison, evaluate
from ..core._errors import IdlinError
from ..core._gap import distribution_gap
from ..core._predictor import Predictor
from ..core._subspaces import subspaces
from ..properties import (
    AllOrNone,
    LinearProbe,
    Parallelism,
    RelationalLinearity,
    Steering,
    all_or_none,
    both_forms,
    counterexample,
)
from .data import lowrank_truth, morphology_truth
from .train import TrainConfig, train


@dataclasses.dataclass(frozen=True)
class ReproduceConfig:
    """Sizes of the default experiment; `ReproduceConfig.preset(quick=...)` gives the two
    presets the CLI uses.

    Attributes:
        lowrank_vocab, lowrank_context_length, lowrank_rank, lowrank_truth_width: the low-rank
            truth (V, T, r and the truth's width d* > r: it carries invisible coordinates).
        adjectives: the morphology language's lemmas (V = 3m + 3 tokens, N = 3m contexts).
        width_offsets: trained widths are `r + offset` for each offset (r = the truth's rank).
        seeds, steps, batch_size, learning_rate, hidden, embed: training (`idlin.lab.train`).
        members: random class members in the all-or-none harness (plus p and its minimal model).
        seed: the PRNG seed of everything.
    """

    lowrank_vocab: int = 12
    lowrank_context_length: int = 2
    lowrank_rank: int = 4
    lowrank_truth_width: int = 6
    adjectives: tuple[str, ...] = ("easy", "lucky", "happy", "big", "small", "fast", "slow", "tall")
    width_offsets: tuple[int, ...] = (0, 3)
    seeds: int = 3
    steps: int = 1500
    batch_size: int = 128
    learning_rate: float = 1e-2
    hidden: int = 64
    embed: int = 16
    members: int = 6
    seed: int = 0

    @classmethod
    def preset(cls, *, quick: bool) -> ReproduceConfig:
        """The default run, or `quick`: fewer contexts, one width, two seeds, few steps."""
        if not quick:
            return cls()
        return cls(
            lowrank_vocab=8, lowrank_rank=3, lowrank_truth_width=5,
            adjectives=("easy", "lucky", "happy", "big", "small", "fast"),
            width_offsets=(2,), seeds=2, steps=400, batch_size=64, hidden=32, embed=8,
            members=2,
        )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class TruthRecord:
    """A ground truth: name, sizes, its effective complexity r and its spectra (docs/theory.md
    §3)."""

    name: str
    contexts: int
    vocab: int
    width: int
    rank: int
    embedding_spectrum: tuple[float, ...]
    unembedding_spectrum: tuple[float, ...]
    log_odds_spectrum: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class ModelRecord:
    """One trained model against its truth (docs/theory.md §8).

    Attributes:
        experiment: "lowrank" or "morphology"; width, seed: the model.
        kl_to_truth: `mean_x KL(p* ‖ p_θ)` (nats); relative_gap: `‖C* − C_θ‖_F/‖C*‖_F`.
        rank_rtol: the model's rank threshold, tied to its KL (`idlin.accuracy_rtol`,
        docs/theory.md §8).
        effective_complexity: numerical rank of C_θ at `rank_rtol` (compare with the truth's r);
        rank_separation: `σ_r/σ_{r+1}` of C_θ at the truth's r.
        canonical_r2: R² of the least-squares map from the truth's canonical coordinates to the
            model's, both cut at the truth's r (`idlin.core.metrics.canonical_fit`), or None.
        map_embedding_residual, map_unembedding_residual: Theorem EL residuals of
            `recover_extended_map(truth, model)` (0 for exactly equivalent models).
        *_spectrum: singular values of F, Ĝ, C of the model.
    """

    experiment: str
    width: int
    seed: int
    kl_to_truth: float
    relative_gap: float
    rank_rtol: float
    effective_complexity: int
    rank_separation: float
    canonical_r2: float | None
    map_embedding_residual: float
    map_unembedding_residual: float
    embedding_spectrum: tuple[float, ...]
    unembedding_spectrum: tuple[float, ...]
    log_odds_spectrum: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class SeedPair:
    """Two seeds of one configuration compared with each other (docs/theory.md §8)."""

    experiment: str
    width: int
    seeds: tuple[int, int]
    relative_gap: float
    mean_kl: float
    canonical_r2: float | None


@dataclasses.dataclass(frozen=True)
class ScoreRecord:
    """A property's scores on one trained model, raw and identifiable (docs/theory.md §6)."""

    width: int
    seed: int
    raw_score: float
    identifiable_score: float
    raw_holds: bool
    identifiable_holds: bool


@dataclasses.dataclass(frozen=True)
class CounterexampleRecord:
    """The member of the truth's class that flips the raw verdict (docs/theory.md §7.4).

    Attributes:
        construction: how it was built ("" when no member flips).
        raw_on_truth, raw_on_member: the raw verdicts (the latter None without a member).
        identifiable: the identifiable verdict (one for the whole class).
        member_width: the member's width, or None.
        member_relative_gap: its relative gap to the truth (≈ 0: it is equivalent), or None.
        reason: why it flips the verdict, or why no member can.
    """

    construction: str
    raw_on_truth: bool
    raw_on_member: bool | None
    identifiable: bool
    member_width: int | None
    member_relative_gap: float | None
    reason: str


@dataclasses.dataclass(frozen=True)
class PropertyRecord:
    """One property of the morphology language (docs/theory.md §6–§7).

    Attributes:
        name, side, probe: the property and its probe set.
        truth_raw, truth_identifiable: verdict and score on the exact truth.
        truth_inclusion: whether the truth satisfies the inclusion condition.
        note: the property's caveat on the truth (e.g. a vacuous affine fit), or "".
        all_or_none: the harness over members of the truth's class (`AllOrNone` fields).
        counterexample: construction, raw verdicts on the truth and on the member, the member's
            relative gap to the truth (≈ 0: it is equivalent), and the reason.
        trained: per trained model, raw vs identifiable scores.
    """

    name: str
    side: str
    probe: str
    truth_raw: tuple[bool, float]
    truth_identifiable: tuple[bool, float]
    truth_inclusion: bool
    note: str
    all_or_none: AllOrNone
    counterexample: CounterexampleRecord
    trained: tuple[ScoreRecord, ...]


@dataclasses.dataclass(frozen=True)
class ReproduceResult:
    """Everything `reproduce` found; `report.json` is `dataclasses.asdict` of it.

    Attributes:
        config: the `ReproduceConfig`.
        truths, models, seed_pairs, properties: the records above.
        skipped: evaluations not run, each with the reason (a probe degenerate on a model).
        seconds: wall-clock time.
        versions: jax, idlin.
    """

    config: ReproduceConfig
    truths: tuple[TruthRecord, ...]
    models: tuple[ModelRecord, ...]
    seed_pairs: tuple[SeedPair, ...]
    properties: tuple[PropertyRecord, ...]
    skipped: tuple[str, ...]
    seconds: float
    versions: dict[str, str]


@dataclasses.dataclass(frozen=True, eq=False)
class Artifacts:
    """In-memory objects behind the records, for the figures (not serialised).

    Attributes:
        truths: name → truth `Predictor`; trained: name → list of (width, seed, Predictor).
        parallel_pairs: token pairs (positive → superlative) and their labels, for the
            *easy→easiest ∥ lucky→luckiest* picture; counterexample_member: the truth's class
            member that breaks raw token parallelism (or None).
        names: experiment → `(tokens, contexts)` strings for its model files (or absent).
        probes: file name → text of the morphology probe sets (TSVs by name; one steering vector
            per model, `steering_<model file stem>.txt`), which `idlin inspect` reads to
            reproduce the report's property rows.
    """

    truths: dict[str, Predictor]
    trained: dict[str, list[tuple[int, int, Predictor]]]
    names: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = dataclasses.field(
        default_factory=dict
    )
    probes: dict[str, str] = dataclasses.field(default_factory=dict)
    parallel_pairs: np.ndarray | None = None
    parallel_labels: tuple[str, ...] = ()
    counterexample_member: Predictor | None = None


def _tuple(a) -> tuple[float, ...]:
    return tuple(float(x) for x in np.asarray(a))


def _truth_record(name: str, p: Predictor, rank: int) -> TruthRecord:
    s = subspaces(p)
    return TruthRecord(
        name, p.num_contexts, p.vocab_size, p.width, rank, _tuple(s.embedding_spectrum),
        _tuple(s.unembedding_spectrum), _tuple(s.log_odds_spectrum),
    )  # fmt: skip


def _model_record(experiment, width, seed, c: Comparison, aq: Analysis) -> ModelRecord:
    spectrum = np.asarray(aq.log_odds_singular_values)
    return ModelRecord(
        experiment=experiment,
        width=width,
        seed=seed,
        kl_to_truth=c.kl_pq,
        relative_gap=float(c.gap.relative),
        rank_rtol=c.fit_threshold / float(spectrum[0]) if spectrum[0] > 0 else 0.5,
        effective_complexity=c.fit_rank,
        rank_separation=c.spectral_gap,
        canonical_r2=c.canonical_r2,
        map_embedding_residual=c.map.embedding_residual,
        map_unembedding_residual=c.map.unembedding_residual,
        embedding_spectrum=_tuple(aq.embedding_singular_values),
        unembedding_spectrum=_tuple(aq.unembedding_singular_values),
        log_odds_spectrum=_tuple(spectrum),
    )


def evaluate_trained(
    experiment, truth: Predictor, trained, r
) -> tuple[list[ModelRecord], list[SeedPair]]:
    """The §8 stage of `reproduce`: `idlin.evaluate` of the `trained` models, `(width, seed,
    Predictor)` each, against the `truth` (canonical coordinates compared at its rank `r`) and
    between the seeds of each width, read into `ModelRecord`s and `SeedPair`s."""
    labels = [(w, s) for w, s, _ in trained]
    ev = evaluate(
        [q for *_, q in trained], truth, rank=r, labels=labels, groups=[w for w, _ in labels]
    )
    models = [
        _model_record(experiment, w, s, c, a)
        for (w, s), c, a in zip(labels, ev.to_truth, ev.analyses, strict=True)
    ]
    pairs = [
        SeedPair(experiment, labels[i][0], (labels[i][1], labels[j][1]), float(c.gap.relative),
                 c.kl_pq, c.canonical_r2)
        for (i, j), c in ev.between
    ]  # fmt: skip
    return models, pairs


def _train(truth, r: int, cfg: ReproduceConfig, key, say) -> list[tuple[int, int, Predictor]]:
    out = []
    for i, offset in enumerate(cfg.width_offsets):
        width = r + offset
        say(f"training {truth.name}: width {width}, {cfg.seeds} seeds, {cfg.steps} steps")
        config = TrainConfig(
            width=width, steps=cfg.steps, seeds=cfg.seeds, batch_size=cfg.batch_size,
            learning_rate=cfg.learning_rate, hidden=cfg.hidden, embed=cfg.embed,
            chunk_steps=min(cfg.steps, 500), checkpoint_every=cfg.steps,
        )  # fmt: skip
        result = train(truth, config, key=jax.random.fold_in(key, i), progress=False)
        out += [(width, k, q.astype(np.float64)) for k, q in enumerate(result.predictors)]
    return out


def morphology_specs(truth, trained_model: Predictor | None = None) -> list[tuple[str, Any]]:
    """The five properties of docs/theory.md §6 on the morphology language, positive →
    superlative."""
    ctx = truth.context_pairs_for("positive", "superlative")
    tok = truth.token_pairs_for("positive", "superlative")
    m = len(ctx)
    sup = np.array([k == "superlative" for _, k in truth.context_pairs])
    pos = np.array([k == "positive" for _, k in truth.context_pairs])
    p = truth.predictor if trained_model is None else trained_model
    F = np.asarray(p.embeddings)
    vector = F[sup].mean(axis=0) - F[pos].mean(axis=0)
    return [
        (f"{m} context pairs (positive, a) → (superlative, a)", Parallelism(ctx, "embedding")),
        (f"{m} token pairs easy → easiest, ...", Parallelism(tok, "unembedding")),
        # In-sample faithfulness: a held-out lemma is a one-hot direction no fit has seen.
        (f"{m} context pairs positive → superlative (in-sample)", RelationalLinearity(ctx)),
        (f"{len(sup)} contexts labelled superlative or not",
         LinearProbe(np.arange(len(sup)), sup.astype(np.int64))),
        ("v = mean f(superlative) − mean f(positive)", Steering(vector=vector)),
    ]  # fmt: skip


def model_stem(experiment: str, width: int | None = None, seed: int | None = None) -> str:
    """The file stem of a model `idlin reproduce` writes: `lowrank_truth`, `morphology_d13_seed0`
    (`models/STEM.npz`, `probes/steering_STEM.txt`)."""
    return f"{experiment}_truth" if width is None else f"{experiment}_d{width}_seed{seed}"


def _probe_files(truth, contexts: tuple[str, ...], trained=()) -> dict[str, str]:
    """The probe sets of `morphology_specs` as the files `idlin inspect` reads (items by name;
    `--holdout 0` for the in-sample relational score the report gives).

    Pairs and labels name contexts and tokens, so one file serves every model; a steering vector
    is d numbers in one model's own coordinates (`mean f(superlative) − mean f(positive)` of that
    model), so there is one per model, named after its model file:
    `steering_morphology_truth.txt` (width of the truth), `steering_morphology_d{w}_seed{s}.txt`
    for each trained model in `trained` (`(width, seed, Predictor)`)."""
    specs = dict((type(spec).__name__ + spec.side, spec) for _, spec in morphology_specs(truth))
    tokens = truth.tokens
    ctx = specs["Parallelismembedding"].pairs
    tok = specs["Parallelismunembedding"].pairs
    probe = specs["LinearProbeembedding"]
    rows = lambda pairs, names: "".join(f"{names[a]}\t{names[b]}\n" for a, b in pairs)  # noqa: E731
    head = "# idlin reproduce: the morphology truth's probe sets (docs/theory.md §6)\n"

    def steering(model, name: str) -> tuple[str, str]:
        vector = morphology_specs(truth, model)[-1][1].vector
        text = f"# steering vector of {name}.npz (its own coordinates, width {len(vector)})\n"
        return f"steering_{name}.txt", text + "\n".join(repr(float(v)) for v in vector) + "\n"

    files = {
        "context_pairs.tsv": head + rows(ctx, contexts),
        "token_pairs.tsv": head + rows(tok, tokens),
        "labels.tsv": head
        + "".join(
            f"{contexts[i]}\t{int(l)}\n" for i, l in zip(probe.contexts, probe.labels, strict=True)
        ),
    }
    for model, name in [(None, model_stem("morphology"))] + [
        (q, model_stem("morphology", w, k)) for w, k, q in trained
    ]:
        fname, text = steering(model, name)
        files[fname] = text
    return files


def _property_records(truth, trained, cfg, key, say, skipped) -> tuple[list[PropertyRecord], Any]:
    # One key for every harness call: the same random members (and widths) for each property,
    # so their kernels compile once.
    records, member = [], None
    truth_specs = morphology_specs(truth)
    for i, (probe, spec) in enumerate(truth_specs):
        say(f"properties on the morphology truth: {spec.name} ({spec.side})")
        p = truth.predictor
        spec = spec.resolve(p)
        raw, ident = both_forms(spec, p)
        aon = all_or_none(p, spec, key=key, members=cfg.members)
        ce = counterexample(p, spec, key=key)
        ce_gap = None if ce.member is None else float(distribution_gap(p, ce.member).relative)
        if spec.name == "parallelism" and spec.side == "unembedding":
            member = ce.member
        scores = []
        for width, seed, q in trained:
            _, own = morphology_specs(truth, q)[i]  # a steering vector in q's coordinates
            own = own.resolve(q)
            try:
                r_q, i_q = both_forms(own, q)
            except IdlinError as e:  # a degenerate probe on a trained model: report, go on
                skipped.append(f"{spec.name} ({spec.side}) on width {width} seed {seed}: {e}")
                continue  # reported with the result (`skipped`), not as a stage
            scores.append(ScoreRecord(width, seed, r_q.score, i_q.score, r_q.holds, i_q.holds))
        records.append(
            PropertyRecord(
                name=spec.name, side=spec.side, probe=probe,
                truth_raw=(raw.holds, raw.score), truth_identifiable=(ident.holds, ident.score),
                truth_inclusion=raw.inclusion.holds, note=raw.note, all_or_none=aon,
                counterexample=CounterexampleRecord(
                    construction=ce.construction, raw_on_truth=ce.raw_on_p,
                    raw_on_member=ce.raw_on_member, identifiable=ce.identifiable,
                    member_width=None if ce.member is None else ce.member.width,
                    member_relative_gap=ce_gap, reason=ce.reason,
                ),
                trained=tuple(scores),
            )
        )  # fmt: skip
    return records, member


PROPERTIES = 5  # the properties of `morphology_specs`, one stage each


def stages(config: ReproduceConfig) -> int:
    """How many times `reproduce` calls `say` (once at the start of each stage): building the
    truths, per truth one training per width and one comparison, one per property — the total of
    the CLI's progress bar."""
    return 1 + 2 * (len(config.width_offsets) + 1) + PROPERTIES


def reproduce(
    config: ReproduceConfig | None = None,
    *,
    say: Callable[[str], None] = lambda message: None,
) -> tuple[ReproduceResult, Artifacts]:
    """Run the default experiment (module docstring) and return its records and artifacts.

    A property that is degenerate on some trained model (e.g. a zero difference) is skipped
    there, with the reason in `ReproduceResult.skipped`, rather than failing the run.

    Args:
        config: sizes (default `ReproduceConfig()`; `ReproduceConfig.preset(quick=True)` for a
            run of well under a minute).
        say: called with a short message at the start of each stage (progress display;
            `stages(config)` calls in all).

    Returns:
        `(ReproduceResult, Artifacts)`.

    Raises:
        ConfigError: sizes the data generators or training reject.
    """
    cfg = ReproduceConfig() if config is None else config
    t0 = time.perf_counter()
    key = jax.random.key(cfg.seed)
    truths, models, pairs, skipped = [], [], [], []
    say("building the low-rank and morphology truths")
    lowrank = lowrank_truth(
        vocab_size=cfg.lowrank_vocab, context_length=cfg.lowrank_context_length,
        rank=cfg.lowrank_rank, width=cfg.lowrank_truth_width, key=jax.random.fold_in(key, 1),
    )  # fmt: skip
    morph = morphology_truth(adjectives=cfg.adjectives)
    assert morph.rank is not None  # the morphology generator always plants its rank
    experiments = [("lowrank", lowrank, cfg.lowrank_rank), ("morphology", morph, morph.rank)]
    arts = Artifacts(truths={}, trained={})
    for n, (name, truth, r) in enumerate(experiments):
        p = truth.predictor.astype(np.float64)
        truths.append(_truth_record(name, p, r))
        arts.truths[name] = p
        trained = _train(truth, r, cfg, jax.random.fold_in(key, 10 + n), say)
        arts.trained[name] = trained
        say(f"comparing {len(trained)} {name} models with the truth and with each other")
        records, seed_pairs = evaluate_trained(name, p, trained, r)
        models += records
        pairs += seed_pairs

    props, member = _property_records(
        morph, arts.trained["morphology"], cfg, jax.random.fold_in(key, 3), say, skipped
    )
    token_pairs = morph.token_pairs_for("positive", "superlative")
    contexts = tuple(f"<{k}> {a}" for a, k in morph.context_pairs)
    arts.names["morphology"] = (tuple(morph.tokens), contexts)
    arts = dataclasses.replace(
        arts,
        probes=_probe_files(morph, contexts, arts.trained["morphology"]),
        parallel_pairs=token_pairs,
        parallel_labels=tuple(f"{morph.tokens[a]}→{morph.tokens[b]}" for a, b in token_pairs),
        counterexample_member=member,
    )
    from .. import __version__

    result = ReproduceResult(
        config=cfg,
        truths=tuple(truths),
        models=tuple(models),
        seed_pairs=tuple(pairs),
        properties=tuple(props),
        skipped=tuple(skipped),
        seconds=time.perf_counter() - t0,
        versions={"jax": jax.__version__, "idlin": __version__},
    )
    return result, arts
