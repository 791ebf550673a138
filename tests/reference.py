"""Independent float64 NumPy references for the core (docs/theory.md §1–§4): dense, direct,
obvious."""

import numpy as np


def f64(a):
    return np.asarray(a, dtype=np.float64)


def log_probs(F, G):
    L = f64(F) @ f64(G).T
    L = L - L.max(axis=1, keepdims=True)
    return L - np.log(np.exp(L).sum(axis=1, keepdims=True))


def log_odds(F, G):
    """C[x, y] = log p(y|x) − mean_y' log p(y'|x), from the probabilities themselves."""
    lp = log_probs(F, G)
    return lp - lp.mean(axis=1, keepdims=True)


def gap(p, q):
    """(frobenius, relative, max_abs, mean_kl) by materialising everything."""
    Cp = log_odds(p.embeddings, p.unembeddings)
    Cq = log_odds(q.embeddings, q.unembeddings)
    D = Cp - Cq
    lp = log_probs(p.embeddings, p.unembeddings)
    lq = log_probs(q.embeddings, q.unembeddings)
    kl = (np.exp(lp) * (lp - lq)).sum(axis=1).mean()
    frob = np.linalg.norm(D)
    return frob, frob / np.linalg.norm(Cp), np.abs(D).max(), kl


def rank(A, rtol):
    s = np.linalg.svd(f64(A), compute_uv=False)
    return int((s > rtol * s[0]).sum()) if s[0] > 0 else 0


def centered(G):
    G = f64(G)
    return G - G.mean(axis=0)


def row_basis(A, rtol):
    """Orthonormal basis (columns) of rowspace(A)."""
    _, s, Vt = np.linalg.svd(f64(A), full_matrices=False)
    k = int((s > rtol * s[0]).sum()) if s[0] > 0 else 0
    return Vt[:k].T


def member(p, seed, extra=0):
    """`(F, G)` of an equivalent member built in NumPy, independently of `sample_equivalent`:
    basis change, shift and `extra` widened coordinates (docs/theory.md §5 moves 1, 2, 5)."""
    rng = np.random.default_rng(seed)
    F, G = f64(p.embeddings), f64(p.unembeddings)
    d = F.shape[1]
    M = rng.normal(size=(d, d)) + 2 * np.eye(d)
    F, G = F @ M.T, np.linalg.solve(M.T, G.T).T + rng.normal(size=d)
    F = np.concatenate([F, rng.normal(size=(len(F), extra))], axis=1)
    G = np.concatenate([G, np.tile(rng.normal(size=extra), (len(G), 1))], axis=1)
    return F, G
