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
# # 6 · Audit your own measure: is it a fact about the distribution?
#
# **Claim** (docs/theory.md §9). A measure `m(F, G)` of a next-token predictor — a cosine
# between two embedding differences, a probe margin, CKA against another model — is
# *identifiable* only if it is constant on the model's equivalence class (docs/theory.md §5):
# every model with the same next-token distributions must give the same value. `idlin.audit`
# answers this for any JAX function, generator by generator:
#
# 1. **locally**, from one reverse-mode pass: the gradient of `m` along each generator
#    (`∇_Fᵀ F − Gᵀ∇_G` for a basis change, `∇_Gᵀ1` for a shift, `∇_F(I − P_U)` and
#    `∇_G(I − P_E)` for the invisible parts, the same at the zero-padded model for widening);
# 2. **globally**, by optax ascent of `|m(member) − m(p)|` over each generator's members, and
#    the minimal model for shrinking; every change reported comes with a *witness*, a model
#    verified to have the same distribution (relative gap ≤ 1e-8 in float64, docs/theory.md §2).
#
# This notebook audits a researcher's cosine, repairs it, audits a two-model measure, shows the
# Hypothesis helper, and draws the report card of the field's measures (docs/theory.md §9.5).
#
# Set `IDLIN_NOTEBOOK_SIZE=tiny` for the small sizes CI uses.

# %%
import os
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from _show import show_figure  # displays, or saves to figures/ when run as a script

import idlin
from idlin.testing import NotIdentifiable, assert_identifiable, planted_predictor

jax.config.update("jax_enable_x64", True)

SIZE = os.environ.get("IDLIN_NOTEBOOK_SIZE", "full")
if SIZE not in ("tiny", "full"):
    raise ValueError(f"IDLIN_NOTEBOOK_SIZE: expected 'tiny' or 'full', got {SIZE!r}")
TINY = SIZE == "tiny"
BUDGET, STARTS = (15, 2) if TINY else (60, 4)
# A model that is not diverse (k_f = k_g = 4 > r = 2 in width 6), so that invisible parts exist.
p = planted_predictor(
    0, shape=(14, 10, 6), embedding_rank=4, unembedding_rank=4, effective_complexity=2
)
a = idlin.analyze(p)
print(
    f"size={SIZE}: N={p.num_contexts}, V={p.vocab_size}, d={p.width}, "
    f"k_f={int(a.embedding_rank)}, k_g={int(a.unembedding_rank)}, r={int(a.effective_complexity)}"
)

# %% [markdown]
# ## 1 · A researcher's measure: the cosine of two embedding differences
#
# Say contexts 0→1 and 2→3 are "the same relation" and we report how aligned their embedding
# differences are. Write it as a plain JAX function of `(F, G)` and audit it.


# %%
def cosine(F, G):
    u, v = F[1] - F[0], F[3] - F[2]
    return u @ v / jnp.sqrt((u @ u) * (v @ v))


result = idlin.audit(cosine, p, key=jax.random.key(0), budget=BUDGET, starts=STARTS)
print(result)
assert result.generators["basis"].verdict == "✗" and result.generators["shift"].verdict == "✓"

# %% [markdown]
# The basis change, the invisible embedding part, widening the embeddings and shrinking all
# change the cosine; each ✗ comes with a witness. Check one independently with NumPy: same
# distribution, different cosine.

# %%
w = result.generators["basis"].witness


def c_np(q):
    F, G = np.asarray(q.embeddings), np.asarray(q.unembeddings)
    return F @ (G - G.mean(0, keepdims=True)).T


gap = np.linalg.norm(c_np(w) - c_np(p)) / np.linalg.norm(c_np(p))
print(f"witness: relative gap {gap:.1e}; cosine {float(cosine(p.embeddings, None)):.4f} → "
      f"{float(cosine(w.embeddings, None)):.4f}")  # fmt: skip
assert gap <= 1e-10 and abs(float(cosine(w.embeddings, None) - cosine(p.embeddings, None))) > 1e-3

# %% [markdown]
# ## 2 · The repair: the same cosine on what the distribution determines
#
# docs/theory.md §6: identifiable scores use coordinates isometric to the rows of `C = F Ĝᵀ`.
# The cosine
# of the differences of rows of `C` is a function of the distribution, and the audit finds it
# invariant along every generator.


# %%
def identifiable_cosine(F, G):
    C = F @ (G - G.mean(0, keepdims=True)).T
    return cosine(C, None)


fixed = idlin.audit(identifiable_cosine, p, key=jax.random.key(1), budget=BUDGET, starts=STARTS)
print(fixed)
assert fixed.invariant

# %% [markdown]
# ## 3 · Two-model measures: close over the reference
#
# CKA, m_CCA and d_rep compare the model with a fixed reference. Audit one argument with the
# other held fixed (docs/theory.md §9.4): `idlin.audit(lambda F, G: m(F, G, F_ref, G_ref), p, ...)`.
# Linear CKA is invariant under orthogonal maps only, so a general basis change moves it.

# %%
rng = np.random.default_rng(0)
F_ref = jnp.asarray(rng.normal(size=(p.num_contexts, 6)))


def linear_cka(X, Y):
    X, Y = X - X.mean(0, keepdims=True), Y - Y.mean(0, keepdims=True)
    return jnp.sum((Y.T @ X) ** 2) / (jnp.linalg.norm(X.T @ X) * jnp.linalg.norm(Y.T @ Y))


cka = idlin.audit(
    lambda F, G: linear_cka(F, F_ref), p, key=jax.random.key(2), budget=BUDGET, starts=STARTS,
    generators=("basis", "shift", "invisible_unembedding"),
)  # fmt: skip
print(cka)
assert cka.verdicts() == {"basis": "✗", "shift": "✓", "invisible_unembedding": "✓"}

# %% [markdown]
# ## 4 · In your own property-based tests
#
# `idlin.testing.assert_identifiable` is a plain assertion: use it inside a Hypothesis `@given`
# test over `idlin.testing.predictors()`, and a failure names the generator, the change and the
# witness (Hypothesis then shrinks the drawn model).

# %%
try:
    assert_identifiable(cosine, p, generators=("basis",), budget=BUDGET, starts=STARTS)
except NotIdentifiable as err:
    print(str(err).splitlines()[0])
    assert err.generator == "basis" and err.witness is not None
else:
    raise AssertionError("the raw cosine passed the audit")

# %% [markdown]
# ## 5 · The report card of the field's measures
#
# `idlin.report_card` audits the catalogue (raw and identifiable parallelism, probe margins,
# steering, relational faithfulness, m_CCA, CKA, d_rep, d_logit, m_SVD, the causal inner
# product, norms) and compares every verdict with docs/theory.md §9.5. In tiny mode a few rows only.

# %%
measures = (
    ("raw_cosine", "identifiable_parallelism", "raw_steering", "mcca_embeddings", "d_logit")
    if TINY
    else None
)
card = idlin.report_card(key=jax.random.key(3), budget=BUDGET, starts=STARTS, measures=measures)
from idlin.properties.audit._card import DISAGREEMENTS  # noqa: E402

for row in card.rows:
    assert sorted(row.disagreements) == sorted(DISAGREEMENTS.get(row.measure, {})), row.measure
print(f"{len(card.rows)} measures audited; disagreements with docs/theory.md §9.5: "
      f"{card.disagreements() or 'none'}")  # fmt: skip

# %%
generators = list(card.rows[0].verdicts)
change = plt.get_cmap("Reds")
rgba = np.zeros((len(card.rows), len(generators), 4))
for i, row in enumerate(card.rows):
    for j, g in enumerate(generators):
        v = row.verdicts[g]
        if v == "✗":  # shade by log10 of the relative change, from 1e-6 (light) to 1 (dark)
            level = (np.log10(max(row.changes[g], 1e-6)) + 6.0) / 6.0
            rgba[i, j] = change(0.35 + 0.65 * min(level, 1.0))
        else:
            rgba[i, j] = (0.80, 0.92, 0.80, 1.0) if v == "✓" else (0.85, 0.85, 0.85, 1.0)
fig, ax = plt.subplots(figsize=(11, 0.36 * len(card.rows) + 2.0))
ax.imshow(rgba, aspect="auto")
for i, row in enumerate(card.rows):
    for j, g in enumerate(generators):
        v = row.verdicts[g]
        text = f"✗ {row.changes[g]:.0e}" if v == "✗" else v
        ax.text(j, i, text, ha="center", va="center", fontsize=7,
                color="white" if v == "✗" else "black")  # fmt: skip
ax.set_xticks(range(len(generators)), [g.replace("_", " ") for g in generators], fontsize=8,
              rotation=25, ha="right")  # fmt: skip
ax.set_yticks(range(len(card.rows)), [r.description for r in card.rows], fontsize=8)
ax.set_xlabel("generator of the equivalence class (docs/theory.md §5, §9)")
ax.set_ylabel("measure")
ax.set_title(
    "Report card (docs/theory.md §9.5): ✗ = changed by a verified equivalent member", fontsize=10
)
for label, colour in (("✓ invariant", (0.80, 0.92, 0.80)), ("✗ not invariant", change(0.8)),
                      ("n/a other width", (0.85, 0.85, 0.85))):  # fmt: skip
    ax.plot([], [], "s", color=colour, markersize=9, label=label)
below = -0.12 - 1.2 / len(card.rows)  # under the rotated tick labels
ax.legend(loc="upper center", bbox_to_anchor=(0.5, below), ncol=3, fontsize=8, frameon=False)
fig.tight_layout()
out = Path(tempfile.mkdtemp()) if TINY else Path("..") / "docs" / "figures"
out.mkdir(parents=True, exist_ok=True)
fig.savefig(out / "report_card.png", dpi=130)
print(f"saved {out / 'report_card.png'}")
show_figure(fig, "06_audit_your_measure_1")
