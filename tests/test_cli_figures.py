"""The figures of `idlin reproduce` (idlin/apps/report/_figures.py) on small hand-made results:
what a panel shows, what it drops and why, and that the log-scale map fit keeps near-1 R² apart."""

from types import SimpleNamespace as NS

import matplotlib
import numpy as np
import pytest

from idlin.apps.report import _figures

matplotlib.use("Agg", force=True)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ([1.0, 1.0, 1.0], "constant"),
        ([2e-15, 1e-16, 9e-16], "rounding"),
        ([0.0, 0.0], "rounding"),
        ([0.1, 0.4, 0.0], None),
        ([0.9957, 0.9999], None),
        ([None, float("nan")], "no finite"),
    ],
)
def test_uninformative_panels_are_named_with_a_reason(values, reason):
    why = _figures._uninformative(values)
    assert (why is None) if reason is None else (reason in why)


def _score(w, s, raw, ident):
    return NS(width=w, seed=s, raw_score=raw, identifiable_score=ident)


def _result():
    models = [
        NS(experiment="lowrank", width=5, seed=s, canonical_r2=r2, relative_gap=g,
           map_embedding_residual=e, map_unembedding_residual=u)
        for s, r2, g, e, u in [(0, 0.9957, 0.1, 0.2, 0.03), (1, 0.9999, 0.05, 0.1, None)]
    ]  # fmt: skip
    props = [
        NS(name="parallelism", side="embedding", truth_identifiable=(True, 0.0),
           trained=(_score(5, 0, 0.3, 0.01), _score(5, 1, 0.5, 0.02))),
        NS(name="relational_linearity", side="embedding", truth_identifiable=(True, 1.0),
           trained=(_score(5, 0, 1.0, 1.0), _score(5, 1, 1.0, 1.0))),
        NS(name="steering", side="embedding", truth_identifiable=(True, 1e-16),
           trained=(_score(5, 0, 2e-15, 1e-15), _score(5, 1, 0.0, 3e-16))),
    ]  # fmt: skip
    seed_pairs = [NS(experiment="lowrank", width=5, seeds=(0, 1), relative_gap=0.08)]
    return NS(models=models, properties=props, seed_pairs=seed_pairs)


def test_property_scores_drop_constant_and_noise_panels(tmp_path, monkeypatch):
    figs = []
    real_subplots = _figures._pyplot().subplots

    def spy(*args, **kwargs):
        fig, axes = real_subplots(*args, **kwargs)
        figs.append((fig, axes))
        return fig, axes

    monkeypatch.setattr(_figures._pyplot(), "subplots", spy)
    monkeypatch.setattr(_figures._pyplot(), "close", lambda fig: None)
    path = _figures.property_scores(_result(), tmp_path / "p.png")
    assert path.stat().st_size > 0
    fig, axes = figs[0]
    assert axes.shape == (1, 1)  # only parallelism has scores that vary
    assert "lower is better" in axes[0][0].get_title()
    notes = [t.get_text() for t in fig.texts]
    assert any("relational_linearity" in n and "constant" in n for n in notes)
    assert any("steering" in n and "rounding" in n for n in notes)


def test_map_fit_plots_one_minus_r2_on_a_log_scale(tmp_path, monkeypatch):
    figs = []
    real_subplots = _figures._pyplot().subplots

    def spy(*args, **kwargs):
        fig, axes = real_subplots(*args, **kwargs)
        figs.append(axes)
        return fig, axes

    monkeypatch.setattr(_figures._pyplot(), "subplots", spy)
    monkeypatch.setattr(_figures._pyplot(), "close", lambda fig: None)
    _figures.map_fit(_result(), tmp_path / "m.png")
    ax1, ax2 = figs[0]
    assert ax1.get_yscale() == "log" and ax2.get_yscale() == "log"
    assert ax1.get_ylabel() and ax2.get_ylabel()
    y = np.asarray(ax1.lines[0].get_ydata(), dtype=np.float64)
    np.testing.assert_allclose(y, [1 - 0.9957, 1 - 0.9999], rtol=1e-12)  # 43× apart, visible
    # Legends sit below the axes, outside the data area.
    for ax in (ax1, ax2):
        box = ax.get_legend().get_window_extent(ax.figure.canvas.get_renderer())
        assert box.y1 <= ax.get_window_extent().y0
