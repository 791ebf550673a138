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
# # 1 · Distribution equivalence and Theorem L
#
# **Claim.** A next-token predictor `p(y|x) = softmax(f(x)ᵀ g(y))` is determined by its centered
# log-odds `C = F Ĝᵀ`, not by `(F, G)` (docs/theory.md §2). If two models of one width `d` are both
# *diverse* (rank `F` = rank `Ĝ` = `d`, docs/theory.md §3) and define the same distribution, then
# they are
# related by one invertible matrix: `f̃(x) = M f(x)`, `g̃(y) = M^{-ᵀ} g(y) + c`
# (**Theorem L**, docs/theory.md §4), and `M = (F⁺ F̃)ᵀ` recovers it.
#
# This notebook builds two such models, shows that their raw logits differ while their
# distributions agree, recovers `M` and `c`, measures how recovery degrades with the condition
# number of `M` and with a perturbation away from equivalence, and shows that the theorem's
# hypotheses (one width, diversity) are checked, not assumed.
#
# Set `IDLIN_NOTEBOOK_SIZE=tiny` for the small sizes CI uses.

# %%
import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from _show import show_figure  # displays, or saves to figures/ when run as a script

import idlin

jax.config.update("jax_enable_x64", True)

SIZE = os.environ.get("IDLIN_NOTEBOOK_SIZE", "full")
if SIZE not in ("tiny", "full"):
    raise ValueError(f"IDLIN_NOTEBOOK_SIZE: expected 'tiny' or 'full', got {SIZE!r}")
TINY = SIZE == "tiny"
N, V, d = (24, 32, 4) if TINY else (400, 600, 12)  # contexts, tokens, width
CONDITIONS = (1.0, 1e2, 1e4) if TINY else (1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6)
EPSILONS = (1e-8, 1e-4, 1e-1) if TINY else tuple(10.0**k for k in range(-10, 1))
print(f"size={SIZE}: N={N} contexts, V={V} tokens, width d={d}")

# %% [markdown]
# ## Two models, one distribution
#
# `p = (F, G)` has Gaussian embeddings and unembeddings, so it is diverse with probability one.
# `q` applies Theorem L's transformation by hand, with a known `M` (condition number 10) and a
# known shift `c`: `F̃ = F Mᵀ`, `G̃ = G M^{-1} + 1 cᵀ`.

# %%
rng = np.random.default_rng(0)
F = rng.normal(size=(N, d))
G = rng.normal(size=(V, d))
p = idlin.Predictor(F, G)
M = np.asarray(idlin.random_invertible(jax.random.key(1), d, condition=10.0, dtype=jnp.float64))
c = rng.normal(size=d)
q = idlin.Predictor(F @ M.T, np.linalg.solve(M.T, G.T).T + c)  # f̃ = M f, g̃ = M^{-ᵀ} g + c

sp = idlin.subspaces(p)
print(f"p diverse: {sp.diverse} (rank F = {sp.embedding_rank}, rank Ĝ = {sp.unembedding_rank})")

logit_change = float(jnp.max(jnp.abs(p.logits() - q.logits())))
logprob_change = float(jnp.max(jnp.abs(p.log_probs() - q.log_probs())))
gap = idlin.distribution_gap(p, q)
print(f"max |logits_p − logits_q|       = {logit_change:.3g}   (raw coordinates differ)")
print(f"max |log p − log q|             = {logprob_change:.3g}")
print(f"‖C_p − C_q‖_F / ‖C_p‖_F         = {gap.relative:.3g}")
print(f"mean KL(p ‖ q)                  = {gap.mean_kl:.3g}")

assert sp.diverse
assert logit_change > 1.0  # the models really are different as parameter sets
assert logprob_change < 1e-10 and gap.relative < 1e-12 and gap.mean_kl < 1e-12
assert idlin.equivalent(p, q)

# %% [markdown]
# ## Recovering `M` and `c` (Theorem L)
#
# `recover_linear_map` fits `M` on the embedding side only (`M = (F⁺F̃)ᵀ`) and then *checks* the
# unembedding side, `Ĝ̃ = Ĝ M^{-1}`; both residuals vanish for an equivalent pair.

# %%
lm = idlin.recover_linear_map(p, q)
M_error = float(np.linalg.norm(np.asarray(lm.matrix) - M) / np.linalg.norm(M))
c_error = float(np.linalg.norm(np.asarray(lm.shift) - c) / np.linalg.norm(c))
print(f"‖M_rec − M‖/‖M‖ = {M_error:.2e},  ‖c_rec − c‖/‖c‖ = {c_error:.2e}")
print(
    f"embedding residual {lm.embedding_residual:.2e}, "
    f"unembedding residual {lm.unembedding_residual:.2e}, cond(M_rec) = {lm.condition_number:.2f}"
)
assert M_error < 1e-10 and c_error < 1e-10
assert lm.embedding_residual < 1e-12 and lm.unembedding_residual < 1e-12
assert abs(lm.condition_number - 10.0) < 1e-6

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
lp, lq = np.asarray(p.logits()).ravel(), np.asarray(q.logits()).ravel()
Cp, Cq = np.asarray(p.log_odds()).ravel(), np.asarray(q.log_odds()).ravel()
for ax, (a, b, name) in zip(
    axes[:2],
    ((lp, lq, "raw logits  f(x)ᵀg(y)"), (Cp, Cq, "centered log-odds  C[x, y]")),
    strict=True,
):
    lim = [min(a.min(), b.min()), max(a.max(), b.max())]
    ax.plot(lim, lim, color="grey", lw=1, label="y = x")
    ax.scatter(a, b, s=3, alpha=0.4, label="(context x, token y) pairs")
    ax.set_xlabel(f"model p: {name}")
    ax.set_ylabel(f"model q: {name}")
    ax.legend(loc="upper left")
axes[0].set_title("Raw logits differ ...")
axes[1].set_title("... but the distributions are identical")
axes[2].scatter(M.ravel(), np.asarray(lm.matrix).ravel(), s=14, label="entries of M")
mlim = [M.min(), M.max()]
axes[2].plot(mlim, mlim, color="grey", lw=1, label="y = x")
axes[2].set_xlabel("true M (used to build q)")
axes[2].set_ylabel("recovered M = (F⁺F̃)ᵀ")
axes[2].set_title("Theorem L: M is recovered")
axes[2].legend(loc="upper left")
fig.tight_layout()
show_figure(fig, "01_equivalence_theorem_L_1")

# %% [markdown]
# ## How recovery degrades: conditioning and non-equivalence
#
# *Left:* random members of the diverse class, sampled with `sample_equivalent` by the class moves
# of docs/theory.md §5 ("basis" then "shift"), for growing condition numbers of the basis change.
# The map is recovered in every case; the float64 residual grows roughly like `ε·cond`.
#
# *Right:* moving `q` off the class by `F̃ ↦ F̃ + ε·Z` (Gaussian `Z`). The distribution gap and the
# residual of the best linear map both grow linearly in `ε`: Theorem L's certificate is continuous,
# and an inequivalent pair is detected as such — once the gap exceeds the tolerance of
# `equivalent` (relative `1e-8` in float64; choose it for the question asked, docs/theory.md §8).

# %%
cond_rows = []
for i, cond in enumerate(CONDITIONS):
    member = idlin.sample_equivalent(
        p, key=jax.random.key(10 + i), moves=("basis", "shift"), condition=cond
    )
    fit = idlin.recover_linear_map(p, member)
    cond_rows.append((fit.condition_number, fit.embedding_residual, fit.unembedding_residual))
cond_rows = np.array(cond_rows)
print("cond(M)       embedding res.  unembedding res.")
for row in cond_rows:
    print(f"{row[0]:10.3g}   {row[1]:12.2e}   {row[2]:12.2e}")
assert np.all(cond_rows[:, 1:] < 1e-6), "Theorem L recovery failed on an equivalent pair"

Z = rng.normal(size=(N, d))
eps_rows = []
for eps in EPSILONS:
    q_eps = idlin.Predictor(np.asarray(q.embeddings) + eps * Z, q.unembeddings)
    g = idlin.distribution_gap(p, q_eps, frobenius_only=True)
    fit = idlin.recover_linear_map(p, q_eps)
    eps_rows.append((eps, g.relative, fit.unembedding_residual, idlin.equivalent(p, q_eps)))
eps_rows = np.array(eps_rows)
print("\n   ε        relative gap   unembedding res.   equivalent?")
for eps, rel, res, eq in eps_rows:
    print(f"{eps:8.0e}   {rel:12.2e}   {res:14.2e}     {bool(eq)}")
# Linear growth: gap/ε is the same constant across ε (up to 20%).
slope = eps_rows[:, 1] / eps_rows[:, 0]
assert np.all(np.abs(slope / slope[-1] - 1.0) < 0.2)
assert not eps_rows[eps_rows[:, 0] >= 1e-4, 3].any(), (
    "a clearly perturbed pair was called equivalent"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
axes[0].loglog(cond_rows[:, 0], cond_rows[:, 1], "o-", label="embedding residual ‖F̃ − F Mᵀ‖/‖F̃‖")
axes[0].loglog(
    cond_rows[:, 0], cond_rows[:, 2], "s--", label="unembedding residual ‖Ĝ̃ − Ĝ M⁻¹‖/‖Ĝ̃‖"
)
axes[0].loglog(
    cond_rows[:, 0], 1e-16 * cond_rows[:, 0], ":", color="grey", label="ε_float64 · cond"
)
axes[0].set_xlabel("condition number of the map between the two models")
axes[0].set_ylabel("relative residual")
axes[0].set_title("Equivalent pairs: M recovered at any conditioning")
axes[0].legend(fontsize=8)
axes[1].loglog(eps_rows[:, 0], eps_rows[:, 1], "o-", label="relative gap ‖C_p − C_q‖/‖C_p‖")
axes[1].loglog(eps_rows[:, 0], eps_rows[:, 2], "s--", label="unembedding residual of the best M")
axes[1].loglog(eps_rows[:, 0], eps_rows[:, 0], ":", color="grey", label="slope 1 (∝ ε)")
axes[1].set_xlabel("perturbation size ε  (F̃ ↦ F̃ + εZ)")
axes[1].set_ylabel("relative size")
axes[1].set_title("Inequivalent pairs: gap and residual grow with ε")
axes[1].legend(fontsize=8)
fig.tight_layout()
show_figure(fig, "01_equivalence_theorem_L_2")

# %% [markdown]
# ## The hypotheses are checked, not assumed
#
# Theorem L needs one width and diversity. A widened member of the class (docs/theory.md §5, move
# 5) has
# the same distribution but a different width; a model whose embeddings span fewer than `d`
# directions is not diverse. `recover_linear_map` refuses both, pointing to Theorem EL — the
# subject of notebook 2.

# %%
wide = idlin.sample_equivalent(p, key=jax.random.key(2), moves=("widen_embedding", "basis"))
print(f"widened member: width {wide.width}, equivalent: {idlin.equivalent(p, wide)}")
try:
    idlin.recover_linear_map(p, wide)
    raise AssertionError("different widths must be refused")
except idlin.IncompatibleError as err:
    print("IncompatibleError:", err)

F_low = rng.normal(size=(N, d - 1)) @ rng.normal(size=(d - 1, d))  # rank d − 1: not diverse
p_low = idlin.Predictor(F_low, G)
q_low = idlin.Predictor(F_low @ M.T, np.linalg.solve(M.T, G.T).T)
try:
    idlin.recover_linear_map(p_low, q_low)
    raise AssertionError("a non-diverse pair must be refused")
except idlin.NotDiverseError as err:
    print("NotDiverseError:", err)
