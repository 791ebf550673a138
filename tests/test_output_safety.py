"""Outputs are never written through symbolic links, a study is locked like a sweep, a full disk
names the file and leaves no partial one (issue 25)."""

import errno
import os

import numpy as np
import pytest

import idlin
from idlin.core._errors import OutputError
from idlin.core._paths import atomic_write, save_figure, write_text
from idlin.lab.sweep._lock import exclusive
from idlin.lab.sweep._store import ResultsStore


@pytest.fixture
def victim(tmp_path):
    v = tmp_path / "victim.txt"
    v.write_text("precious")
    return v


def test_a_lock_file_that_is_a_link_is_refused_and_its_target_kept(tmp_path, victim):
    out = tmp_path / "o"
    out.mkdir()
    os.symlink(victim, out / "records-p0000.lock")
    with pytest.raises(OutputError, match="got a symbolic link"), exclusive(str(out), 0):
        pass
    assert victim.read_text() == "precious"


def test_a_store_file_that_is_a_link_is_refused_and_its_target_kept(tmp_path, victim):
    out = tmp_path / "o"
    out.mkdir()
    os.symlink(victim, out / "records-p0000.sqlite")
    with pytest.raises(OutputError, match="does not write through links"):
        ResultsStore(str(out), process_index=0)
    assert victim.read_text() == "precious"


def test_whole_files_replace_a_link_and_leave_its_target(tmp_path, victim):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name in ("table.md", "agreement.png"):
        os.symlink(victim, tmp_path / name)
    write_text(tmp_path / "table.md", "new")
    fig = plt.figure()
    save_figure(fig, tmp_path / "agreement.png")
    plt.close(fig)
    assert victim.read_text() == "precious"
    assert not (tmp_path / "table.md").is_symlink() and (tmp_path / "table.md").read_text() == "new"
    assert (tmp_path / "agreement.png").read_bytes()[:4] == b"\x89PNG"
    os.symlink(victim, tmp_path / "m.npz")
    p = idlin.Predictor(np.eye(3), np.arange(12.0).reshape(4, 3))
    idlin.core.io.save(tmp_path / "m.npz", p)
    assert victim.read_text() == "precious" and not (tmp_path / "m.npz").is_symlink()


def test_a_full_disk_names_the_file_and_leaves_none(tmp_path):
    def fail(fh):
        fh.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left") as info:
        atomic_write(tmp_path / "spectra.png", fail, binary=True)
    assert info.value.filename == str(tmp_path / "spectra.png")
    assert os.listdir(tmp_path) == []


def test_a_study_is_locked_and_a_second_run_refused(tmp_path):
    from idlin.lab.study import parse_config, run_study

    doc = {
        "study": {"seeds": 1, "architectures": ["bilinear"], "width_multiples": [1]},
        "train": {"bilinear": {"steps": 2, "learning_rate": 0.05}},
        "distributions": {"m": {"kind": "markov", "vocab_size": 4, "context_length": 2, "rank": 2}},
    }
    with exclusive(str(tmp_path), 0, stem="study", what="study"):  # as a running study holds it
        with pytest.raises(OutputError, match=r"locked by pid \d+ .*another study"):
            run_study(parse_config(doc), tmp_path)
    assert not list((tmp_path / "points").glob("*.json"))


def test_a_diverged_seed_0_is_stacked_for_a_failed_seed_record():
    """`stack` used to build seed 0's Predictor, so a NaN there stopped the point with a
    NonFiniteError; every seed's finiteness is now the caller's (a failed-seed record)."""
    import jax.numpy as jnp

    from idlin.lab.study._train import stack

    F = jnp.ones((3, 4, 2)).at[0, 0, 0].set(jnp.nan)
    s = stack(F, jnp.ones((3, 5, 2)))
    assert np.isnan(np.asarray(s.embeddings)[0]).any() and s.embeddings.shape == (3, 4, 2)
