# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5 · From scratch: easy → easiest ∥ lucky → luckiest in trained models
#
# **Question** (docs/theory.md §8). Models trained on the same distribution are only *approximately*
# equivalent. Do identifiable-form property scores agree across seeds and widths, while raw-form
# scores scatter?
#
# The language is the morphology truth of `idlin.lab.data`: contexts `(<inflection>, lemma)` over
# real English adjectives, next token a word form, with lemma and inflection adding up in the
# log-odds. In the truth, positive → superlative differences are exactly parallel on both sides:
# between contexts `(<positive>, a) → (<superlative>, a)` (embeddings) and between tokens
# `easy → easiest`, `lucky → luckiest`, … (unembeddings). We train small Flax MLP next-token models
# (`idlin.lab.train`, several seeds vectorised) of several widths — some narrower than the
# vocabulary, some wider, hence non-diverse (docs/theory.md §3) — and measure parallelism as
# `σ₂/σ₁` of the unit differences (0 = parallel), raw (stored `f`, `ĝ`) and identifiable (rows and
# columns of `C`; docs/theory.md §6).
#
# Set `IDLIN_NOTEBOOK_SIZE=tiny` for the small sizes CI uses.

# %%
import os

import jax
import matplotlib.pyplot as plt
import numpy as np
from _show import show_figure  # displays, or saves to figures/ when run as a script

import idlin
import idlin.core.metrics
import idlin.lab.data
from idlin.lab.train import TrainConfig, train

jax.config.update("jax_enable_x64", True)

SIZE = os.environ.get("IDLIN_NOTEBOOK_SIZE", "full")
if SIZE not in ("tiny", "full"):
    raise ValueError(f"IDLIN_NOTEBOOK_SIZE: expected 'tiny' or 'full', got {SIZE!r}")
TINY = SIZE == "tiny"
ADJECTIVES = ("easy", "lucky", "happy", "big") if TINY else idlin.lab.data.DEFAULT_ADJECTIVES
truth = idlin.lab.data.morphology_truth(adjectives=ADJECTIVES)
r, V, N = truth.rank, truth.vocab_size, truth.num_contexts
WIDTHS = (r, V + 5) if TINY else (r, 2 * r, V + 15)
SEEDS, STEPS = (2, 300) if TINY else (4, 3000)
print(
    f"size={SIZE}: {len(ADJECTIVES)} adjectives, N={N} contexts, V={V} tokens, "
    f"effective complexity r={r}; widths {WIDTHS}, {SEEDS} seeds, {STEPS} steps"
)

context_pairs = truth.context_pairs_for("positive", "superlative")
token_pairs = truth.token_pairs_for("positive", "superlative")
print("token pairs:", ", ".join(f"{truth.tokens[a]}→{truth.tokens[b]}" for a, b in token_pairs))
for side, pairs in (("embedding", context_pairs), ("unembedding", token_pairs)):
    res = idlin.parallelism(truth.predictor, pairs, side=side, form="identifiable")
    print(f"truth, {side} side: identifiable σ₂/σ₁ = {res.score:.1e}")
    assert res.holds, "the truth has the planted parallelism"

# %% [markdown]
# ## Training
#
# Each width is one `TrainConfig`; its seeds train together in one vmapped program on the exact
# next-token table (`source="table"`: minibatches of contexts, loss `KL(p* ‖ p_θ)`).

# %%
runs = {}
for width in WIDTHS:
    config = TrainConfig(
        architecture="mlp",
        width=width,
        steps=STEPS,
        batch_size=N,
        seeds=SEEDS,
        learning_rate=2e-2,
        hidden=32 if TINY else 64,
        embed=8 if TINY else 16,
        chunk_steps=STEPS,
        checkpoint_every=STEPS,
    )
    runs[width] = train(truth, config, key=jax.random.key(width), progress=False)
    print(
        f"width {width:3d}: mean KL(p* ‖ p_θ) per seed = "
        + ", ".join(f"{kl:.1e}" for kl in runs[width].mean_kl)
        + f"   ({runs[width].seconds:.1f} s)"
    )
    assert np.all(runs[width].mean_kl < 0.05), "every seed must fit the distribution"

# %% [markdown]
# ## Approximately equivalent, and how
#
# For every trained model: its spectrum-based ranks (`subspaces`, rank threshold `√ε` of float32),
# the least-squares fit of its canonical coordinates from the truth's, cut at the truth's `r`
# (`metrics.canonical_fit`, `R² = 1` for exact equivalence; docs/theory.md §8), and parallelism in
# both
# forms on both sides. The inclusion residual says how far the raw differences are from the
# identifiable span (`U` for embeddings, `E` for unembeddings): large for wide models, whose
# unembeddings keep untrained components in directions no context uses.

# %%
rows = []
for width, run in runs.items():
    for seed, p in enumerate(run.predictors):
        s = idlin.subspaces(p)
        fit = idlin.core.metrics.canonical_fit(truth.predictor, p, rank=r)
        row = {
            "width": width,
            "seed": seed,
            "kl": float(run.mean_kl[seed]),
            "r2": fit.r2,
            "k_f": s.embedding_rank,
            "k_g": s.unembedding_rank,
        }
        for side, pairs in (("embedding", context_pairs), ("unembedding", token_pairs)):
            for form in ("raw", "identifiable"):
                res = idlin.parallelism(p, pairs, side=side, form=form)
                row[(side, form)] = res.score
                row[(side, "inclusion")] = res.inclusion.residual
        rows.append(row)

print(
    "width seed  KL       R²(canonical)  rank F rank Ĝ | embedding raw / ident (incl.)"
    " | unembedding raw / ident (incl.)"
)
for row in rows:
    print(
        f"{row['width']:5d} {row['seed']:4d}  {row['kl']:.1e}  {row['r2']:.4f}        "
        f"{row['k_f']:5d} {row['k_g']:6d} | "
        f"{row[('embedding', 'raw')]:.3f} / {row[('embedding', 'identifiable')]:.3f} "
        f"({row[('embedding', 'inclusion')]:.2f})       | "
        f"{row[('unembedding', 'raw')]:.3f} / {row[('unembedding', 'identifiable')]:.3f} "
        f"({row[('unembedding', 'inclusion')]:.2f})"
    )

assert all(row["r2"] > 0.9 for row in rows), "canonical coordinates match the truth's"
ident = np.array(
    [[row[(side, "identifiable")] for side in ("embedding", "unembedding")] for row in rows]
)
raw_unemb = np.array([row[("unembedding", "raw")] for row in rows])
wide = np.array([row["width"] >= V for row in rows])
# Identifiable parallelism survives training in every model, whatever its width and seed ...
assert ident.max() < 0.3, f"identifiable parallelism lost: max σ₂/σ₁ = {ident.max():.2f}"
# ... raw unembedding parallelism does not: in wide models it is dominated by invisible parts.
assert np.all(raw_unemb[wide] > 2 * ident[wide, 1]), "raw scores of wide models should scatter"
assert raw_unemb.std() > ident[:, 1].std()

# %%
fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
ax = axes[0]
for width, run in runs.items():
    loss = run.loss_history.mean(axis=1)
    ax.semilogy(np.arange(1, loss.size + 1), loss, label=f"width {width}")
ax.set_xlabel("training step")
ax.set_ylabel("minibatch KL(p* ‖ p_θ), mean over seeds")
ax.set_title("Training on the morphology table")
ax.legend(fontsize=8)
positions = {w: i for i, w in enumerate(WIDTHS)}
for ax, side, what in (
    (axes[1], "embedding", "contexts (<positive>, a) → (<superlative>, a)"),
    (axes[2], "unembedding", "tokens easy → easiest, lucky → luckiest, …"),
):
    for form, marker, color, shift in (("raw", "o", "C0", -0.1), ("identifiable", "x", "C3", 0.1)):
        xs = [positions[row["width"]] + shift + 0.04 * row["seed"] for row in rows]
        ys = [max(row[(side, form)], 1e-6) for row in rows]
        ax.semilogy(xs, ys, marker, ms=8, color=color, ls="none", label=f"{form} form")
    ax.set_xticks(
        range(len(WIDTHS)),
        [f"d={w}\n({'d ≥ V: non-diverse' if w >= V else 'd < V'})" for w in WIDTHS],
    )
    ax.set_xlabel("model width (one marker per seed)")
    ax.set_ylabel("σ₂/σ₁ of unit differences (0 = parallel)")
    ax.set_title(f"{side} side: {what}", fontsize=9)
    ax.legend(fontsize=8)
fig.suptitle("Identifiable parallelism agrees across seeds and widths; raw parallelism scatters")
fig.tight_layout()
show_figure(fig, "05_trained_morphology_1")

# %% [markdown]
# **Reading the figure.** The identifiable scores sit together for every seed and width: the
# trained distributions are close to the truth, and the identifiable differences inherit its
# parallelism. On the unembedding side the raw scores of models wider than `r` are far larger.
# Unembedding directions that the contexts use little (small singular values of `F`) barely
# affect a prediction, so training barely moves them and the raw `ĝ` differences keep
# initialisation noise there; when `d ≥ V` some directions are not used at all (outside the
# embedding span `E`: the inclusion residual above) — the finite-training analogue of the
# invisible parts that make raw parallelism split over an equivalence class (notebook 3). The
# identifiable form weighs every direction by its effect on the log-odds, so it does not see them.
