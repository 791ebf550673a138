"""The progress bar of the long commands (`idlin.apps._cli_progress`, issue 25): on stderr, with the
steps done of the total and an estimate of the time left, only on a terminal and never with
`--json`."""

import io
import sys

from idlin.apps._cli_progress import steps, wanted


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_is_off_with_json_and_off_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not wanted() and not wanted(quiet=True)
    with steps("x", 3) as bar:
        assert not bar.on
        bar.step("a")  # a no-op, not an error
        bar.done(2)
        bar.total(5)
    assert sys.stderr.getvalue() == ""
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert wanted() and not wanted(quiet=True)


def test_on_a_terminal_the_bar_counts_steps_and_estimates_the_time_left(monkeypatch):
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    with steps("starting", 4) as bar:
        assert bar.on
        task = bar._progress.tasks[0]
        bar.step("training")  # step 1 starts: none finished
        assert task.completed == 0 and task.description == "training"
        bar.step("comparing")  # step 2 starts: step 1 finished
        bar.step("writing")
        assert task.completed == 2 and task.total == 4
        bar._progress.refresh()
        shown = term.getvalue()
        assert "writing" in shown and "2/4" in shown and "left ≈" in shown
        bar.total(6)
        bar.done(5, "nearly there")
        assert task.total == 6 and task.completed == 5 and task.description == "nearly there"
    assert sys.stdout is not None  # the live display gave stdout back
