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
# # 2 · Lifting diversity: Theorem EL, canonical coordinates, the minimal model
#
# **Claim.** Without diversity, equivalent models need not be related by one invertible map, and
# they may even have different widths. What they share is the centered log-odds `C` (docs/theory.md
# §2),
# hence its rank `r`, the **effective complexity** (docs/theory.md §3), and its **canonical
# coordinates**
# `φ = U_C Σ^{1/2}`, `γ = W Σ^{1/2}` from the thin SVD `C = U_C Σ Wᵀ`. Every model maps onto
# them by rank-`r` linear maps, `A_θ f(x) = φ(x)`, `B_θ ĝ(y) = γ(y)`, and two models are equivalent
# iff they reach the same `(φ, γ)`: **extended-linear equivalence, Theorem EL** (docs/theory.md §4).
# `(φ, γ)` is itself the **minimal model**: width `r`, diverse, in the class (docs/theory.md §5,
# move 6).
#
# We build one distribution of effective complexity `r`, three non-diverse members of widths
# `r+2`, `r+3`, `r+4` (class moves of docs/theory.md §5), and check each part of the claim.
#
# Set `IDLIN_NOTEBOOK_SIZE=tiny` for the small sizes CI uses.

# %%
import os

import jax
import matplotlib.pyplot as plt
import numpy as np
from _show import show_figure  # displays, or saves to figures/ when run as a script

import idlin

jax.config.update("jax_enable_x64", True)

SIZE = os.environ.get("IDLIN_NOTEBOOK_SIZE", "full")
if SIZE not in ("tiny", "full"):
    raise ValueError(f"IDLIN_NOTEBOOK_SIZE: expected 'tiny' or 'full', got {SIZE!r}")
TINY = SIZE == "tiny"
N, V, r = (24, 32, 3) if TINY else (300, 500, 6)  # contexts, tokens, effective complexity
print(f"size={SIZE}: N={N} contexts, V={V} tokens, effective complexity r={r}")

# %% [markdown]
# ## One distribution, models of several widths
#
# The reference model has width `r` and Gaussian parameters (diverse). The other members are
# sampled from its class with `sample_equivalent`:
#
# - **widened (embeddings):** extra embedding coordinates `a(x)` with constant unembedding
#   coordinates, then invisible embedding parts `h(x) ∈ U^⊥`: rank `F` = `d`, rank `Ĝ` = `r`;
# - **widened (unembeddings):** extra unembedding coordinates against zero embedding coordinates,
#   then invisible unembedding parts `k(y) ∈ E^⊥`: rank `F` = `r`, rank `Ĝ` = `d`;
# - **widened (both):** both at once: neither side is diverse.
#
# A final random change of basis hides the structure from the raw coordinates.

# %%
rng = np.random.default_rng(0)
reference = idlin.Predictor(rng.normal(size=(N, r)), rng.normal(size=(V, r)))
RECIPES = {
    "widened (embeddings)": (("widen_embedding", "invisible_embedding", "basis"), 2),
    "widened (unembeddings)": (("widen_unembedding", "invisible_unembedding", "basis"), 3),
    "widened (both)": (
        (
            "widen_embedding",
            "widen_unembedding",
            "invisible_embedding",
            "invisible_unembedding",
            "basis",
        ),
        2,
    ),
}
members = {"reference (width r)": reference}
for i, (name, (moves, extra)) in enumerate(RECIPES.items()):
    members[name] = idlin.sample_equivalent(
        reference, key=jax.random.key(i), moves=moves, extra_width=extra
    )

print(
    f"{'member':24s} {'width d':>7s} {'rank F':>7s} {'rank Ĝ':>7s} {'r':>3s} {'diverse':>8s} "
    f"{'rel. gap':>9s}"
)
analyses = {}
for name, m in members.items():
    s = idlin.subspaces(m)
    analyses[name] = s
    g = idlin.distribution_gap(reference, m)
    print(
        f"{name:24s} {m.width:7d} {s.embedding_rank:7d} {s.unembedding_rank:7d} "
        f"{s.effective_complexity:3d} {s.diverse!s:>8s} {g.relative:9.1e}"
    )
    assert s.effective_complexity == r, "effective complexity is a property of the distribution"
    assert g.relative < 1e-10 and g.mean_kl < 1e-12, "class moves must keep the distribution"
widths = {m.width for m in members.values()}
assert len(widths) == len(members), "members of several widths"
assert [s.diverse for s in analyses.values()] == [True, False, False, False]

# %% [markdown]
# ## Spectra: the embeddings and unembeddings differ, `C` does not
#
# The singular values of `F` and `Ĝ` depend on the member; those of `C` are the same for all and
# drop to rounding level after `r`. idlin reports each rank together with the threshold used
# (`rtol · σ_max`, dashed) and the spectral gap at that rank, never a bare number (docs/theory.md
# §3).
# Exact zeros are drawn at `1e-18` so they fit the log scale.

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharey=True)
panels = (
    ("embedding_spectrum", "singular values of F"),
    ("unembedding_spectrum", "singular values of Ĝ (centered G)"),
    ("log_odds_spectrum", "singular values of C = F Ĝᵀ"),
)
for ax, (field, title) in zip(axes, panels, strict=True):
    for (name, s), marker in zip(analyses.items(), "os^v", strict=True):
        sv = np.maximum(getattr(s, field), 1e-18)
        ax.semilogy(
            np.arange(1, sv.size + 1),
            sv,
            marker=marker,
            ls="-",
            alpha=0.8,
            label=f"{name}, d={s.width}",
        )
    s0 = analyses["widened (both)"]
    ax.axhline(
        s0.rtol * getattr(s0, field)[0],
        color="grey",
        ls="--",
        lw=1,
        label="rank threshold (widest member)",
    )
    ax.axvline(r + 0.5, color="black", ls=":", lw=1, label=f"r = {r}")
    ax.set_title(title)
    ax.set_xlabel("index i")
ax = axes[0]
ax.set_ylabel("σ_i")
axes[2].legend(fontsize=7, loc="lower left")
fig.tight_layout()
show_figure(fig, "02_extended_linear_EL_1")
for name, s in analyses.items():
    print(f"{name:24s} σ_r/σ_(r+1) of C = {s.log_odds_gap:.2e}")

# %% [markdown]
# ## Canonical coordinates are shared, and every model maps onto them
#
# `canonical(θ)` returns `(φ, γ)` and the maps `A_θ`, `B_θ` (`r×d`). Its sign convention makes
# `φ, γ` functions of the distribution alone, so they agree across members *as numbers*; the maps
# send each model's own `f`, `ĝ` onto them (Theorem EL).

# %%
canon = {name: idlin.canonical(m) for name, m in members.items()}
phi0, gamma0 = (
    np.asarray(canon["reference (width r)"].phi),
    np.asarray(canon["reference (width r)"].gamma),
)
for name, m in members.items():
    cm = canon[name]
    F, Gh = np.asarray(m.embeddings), np.asarray(m.centered_unembeddings)
    A, B = np.asarray(cm.embedding_map), np.asarray(cm.unembedding_map)
    err_shared = max(
        np.abs(np.asarray(cm.phi) - phi0).max(), np.abs(np.asarray(cm.gamma) - gamma0).max()
    )
    err_A = np.abs(F @ A.T - np.asarray(cm.phi)).max()  # A_θ f(x) = φ(x)
    err_B = np.abs(Gh @ B.T - np.asarray(cm.gamma)).max()  # B_θ ĝ(y) = γ(y)
    print(
        f"{name:24s} A: {A.shape}  |φ−φ_ref|,|γ−γ_ref| ≤ {err_shared:.1e}   "
        f"|A f − φ| ≤ {err_A:.1e}   |B ĝ − γ| ≤ {err_B:.1e}"
    )
    assert cm.rank == r and A.shape == (r, m.width) and B.shape == (r, m.width)
    assert err_shared < 1e-8 and err_A < 1e-8 and err_B < 1e-8

# %%
a_name, b_name = "widened (embeddings)", "widened (both)"
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
Fa, Fb = np.asarray(members[a_name].embeddings), np.asarray(members[b_name].embeddings)
for j in range(r):
    axes[0].scatter(Fa[:, j], Fb[:, j], s=8, alpha=0.6, label=f"coordinate {j + 1}")
    axes[1].scatter(
        np.asarray(canon[a_name].phi)[:, j],
        np.asarray(canon[b_name].phi)[:, j],
        s=8,
        alpha=0.6,
        label=f"φ coordinate {j + 1}",
    )
lim = np.abs(np.asarray(canon[a_name].phi)).max() * 1.1
axes[1].plot([-lim, lim], [-lim, lim], color="grey", lw=1, label="y = x")
axes[0].set_title("Raw embeddings f(x): unrelated coordinates")
axes[0].set_xlabel(f"{a_name} (d={Fa.shape[1]})")
axes[0].set_ylabel(f"{b_name} (d={Fb.shape[1]})")
axes[1].set_title("Canonical coordinates φ(x): identical")
axes[1].set_xlabel(f"{a_name}: φ(x)")
axes[1].set_ylabel(f"{b_name}: φ(x)")
for ax in axes:
    ax.legend(fontsize=7)
fig.tight_layout()
show_figure(fig, "02_extended_linear_EL_2")

# %% [markdown]
# ## Theorem L does not apply; Theorem EL does
#
# Two members of the same width `d > r` can fail to be related by *any* linear map: adding
# invisible parts `h(x) ∈ U^⊥` that are not a linear function of `f(x)` (docs/theory.md §5, move 3)
# keeps the distribution but breaks `f̃ = M f`. `recover_linear_map` refuses the non-diverse
# pair; a plain least-squares fit shows that no linear map fits. The extended map of Theorem EL,
# `T = Ĝ̃⁺ Ĝ` with `P_Ũ f̃ = T P_U f`, relates the visible parts exactly, across widths too.

# %%
p_a = members[a_name]
p_a2 = idlin.sample_equivalent(p_a, key=jax.random.key(7), moves=("invisible_embedding",))
assert p_a2.width == p_a.width and idlin.equivalent(p_a, p_a2)
try:
    idlin.recover_linear_map(p_a, p_a2)
    raise AssertionError("a non-diverse pair must be refused")
except idlin.NotDiverseError as err:
    print("NotDiverseError:", err)
Fa, Fa2 = np.asarray(p_a.embeddings), np.asarray(p_a2.embeddings)
Mt, *_ = np.linalg.lstsq(Fa, Fa2, rcond=None)  # best M with F̃ ≈ F Mᵀ
linear_residual = np.linalg.norm(Fa2 - Fa @ Mt) / np.linalg.norm(Fa2)
print(f"best linear map f̃ ≈ M f leaves {100 * linear_residual:.0f}% of ‖F̃‖ unexplained")
assert linear_residual > 0.05

pairs = [
    (a_name, None),
    (a_name, "widened (unembeddings)"),
    (a_name, b_name),
    ("reference (width r)", b_name),
]
print(
    f"\n{'p':24s} {'q':24s} {'d_p':>4s} {'d_q':>4s} {'rank T':>6s} "
    f"{'emb. res.':>9s} {'unemb. res.':>11s}"
)
for pn, qn in pairs:
    p, q = members[pn], (p_a2 if qn is None else members[qn])
    em = idlin.recover_extended_map(p, q)
    print(
        f"{pn:24s} {qn or 'same width, new h(x)':24s} {p.width:4d} {q.width:4d} {em.rank:6d} "
        f"{em.embedding_residual:9.1e} {em.unembedding_residual:11.1e}"
    )
    assert em.rank == r and em.effective_complexity == (r, r)
    assert em.embedding_residual < 1e-8 and em.unembedding_residual < 1e-8

# %% [markdown]
# ## The minimal model and effective complexity as the smallest width
#
# `minimal(θ) = (φ, γ)` has width `r`, is diverse and equivalent to `θ`. Minimal models of
# different members coincide, so Theorem L between them recovers `M = I`. No model narrower than
# `r` reaches the distribution: by Eckart–Young, the best width-`k` model misses `C` by
# `(Σ_{i>k} σ_i²)^{1/2}` — exactly what the truncated canonical model (`minimal(θ, rank=k)`)
# achieves.

# %%
mins = {name: idlin.minimal(m) for name, m in members.items()}
for name, mm in mins.items():
    s = idlin.subspaces(mm)
    assert mm.width == r and s.diverse and idlin.equivalent(members[name], mm)
lm = idlin.recover_linear_map(mins[a_name], mins[b_name])
identity_error = np.abs(np.asarray(lm.matrix) - np.eye(r)).max()
print(f"Theorem L between two minimal models: max |M − I| = {identity_error:.1e}")
assert identity_error < 1e-8

wide = members[b_name]
sigma = analyses[b_name].log_odds_spectrum
ks = np.arange(1, r + 1)
achieved = np.array(
    [
        idlin.distribution_gap(
            wide, idlin.minimal(wide, rank=int(k)), frobenius_only=True
        ).frobenius
        for k in ks
    ]
)
bound = np.array([np.sqrt(np.sum(sigma[k:] ** 2)) for k in ks])
for k, a, b in zip(ks, achieved, bound, strict=True):
    print(f"width {k}: gap of truncated model {a:.3e}   Eckart–Young bound {b:.3e}")
np.testing.assert_allclose(achieved[:-1], bound[:-1], rtol=1e-8)
assert achieved[-1] < 1e-10 * np.linalg.norm(sigma)

fig, ax = plt.subplots(figsize=(6, 4.2))
ax.semilogy(ks, np.maximum(achieved, 1e-18), "o-", label="‖C − C_k‖_F of minimal(θ, rank=k)")
ax.semilogy(
    ks, np.maximum(bound, 1e-18), "x--", ms=10, label="Eckart–Young bound: √(Σ σᵢ² over i > k)"
)
ax.axvline(r, color="black", ls=":", lw=1, label=f"effective complexity r = {r}")
ax.set_xlabel("width k of the model")
ax.set_ylabel("distance to the distribution (Frobenius, log-odds)")
ax.set_title("No model narrower than r is equivalent")
ax.legend(fontsize=8)
fig.tight_layout()
show_figure(fig, "02_extended_linear_EL_3")
