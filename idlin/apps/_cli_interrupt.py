"""Ctrl-C for the `idlin` command: one line, exit code 130, never a crash, nothing lost.

Why not Python's `KeyboardInterrupt`: it is raised wherever the main thread happens to be — inside
a host callback that XLA runs (`buffer_callback`), where it unwinds through C++ (a segmentation
fault) or comes back as an `XlaRuntimeError` that a numerical fallback may catch (the interrupt
is then ignored), or during interpreter teardown with XLA's thread pools alive (a crash again).

So the console script (`main()`) blocks SIGINT in every thread — before JAX starts any, so its
pools inherit the mask — and one watcher thread takes it with `sigwait`: it prints
`idlin: interrupted` (and what the run kept, `kept(...)`), flushes, and leaves with
`os._exit(130)`, which no thread can intercept and which runs no destructor. Every output idlin
writes is atomic (`idlin.core._paths.atomic_write`) or a SQLite transaction, so leaving at any
instant is `kill -9`'s case, which loses nothing: the old file or the new one, never half.

In-process callers (`cli.run`, the tests) keep Python's handler: typer turns the
`KeyboardInterrupt` into exit code 130 and `cli.run` prints the same line.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

# What an interrupted run keeps, named in the message (set by the command that is running).
_KEPT = {"text": ""}
_GUARDED = {"on": False}


def kept(text: str) -> None:
    """Say what an interrupt at this point leaves behind, e.g. "finished points are kept in
    out/points; rerun to resume" (empty: nothing to say)."""
    _KEPT["text"] = text


def message() -> str:
    """The one line an interrupt prints."""
    return "idlin: interrupted" + (f"; {_KEPT['text']}" if _KEPT["text"] else "")


def _exit_on_sigint() -> None:
    signal.sigwait({signal.SIGINT})
    _leave()


def _leave() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed or broken pipe must not stop the exit
            pass
    os.write(2, (message() + "\n").encode())
    os._exit(130)


def guard() -> bool:
    """Route SIGINT to the watcher thread (call from the main thread before JAX is imported;
    a second call does nothing). False, and nothing changed, where that is not possible (not the
    main thread, SIGINT ignored by the parent as for a background job, or no `pthread_sigmask`).
    """
    if _GUARDED["on"]:
        return True
    if (
        threading.current_thread() is not threading.main_thread()
        or not hasattr(signal, "pthread_sigmask")
        or signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    ):
        return False
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    threading.Thread(target=_exit_on_sigint, name="idlin-sigint", daemon=True).start()
    _GUARDED["on"] = True
    return True


def exit_now(code: int) -> None:
    """Leave the command with `code`: streams flushed, a Ctrl-C still pending (it arrived while
    the work was finishing, before the watcher ran) honoured with 130 — an interrupt is never
    answered by a silent success — then `os._exit`, skipping interpreter teardown: a Ctrl-C
    during a slow teardown (JAX's) would stay blocked and the process exit 0, and teardown with
    XLA's threads alive is where the crashes were. Every output is already written atomically,
    so teardown has nothing left to save."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed or broken pipe must not change the exit code
            pass
    if _GUARDED["on"] and signal.SIGINT in signal.sigpending():
        _leave()
    jax = sys.modules.get("jax")
    if jax is not None and jax.distributed.is_initialized():
        # a multi-host run leaves together: the peers' coordination would abort on a process
        # that vanished without saying goodbye (teardown did this before)
        jax.distributed.shutdown()
    os._exit(code)
