"""Ctrl-C (SIGINT) and SIGTERM during a sweep: stop within seconds, lose nothing stored.

The store commits one cell per transaction (``executors.record_cell``), so exiting between two commits
loses only the cell in flight. Under :func:`guard` (``depthlab run``):

- first signal: the main thread is interrupted (``KeyboardInterrupt``) wherever it runs Python code; the
  run stops, says how many cells are stored, and the process exits with 128 + the signal number (130 for
  SIGINT, 143 for SIGTERM) through ``os._exit`` (:func:`exit_now`), so nothing waits for the background
  compiler: an XLA compilation in a worker thread cannot be interrupted, and interpreter shutdown would
  join that thread (and the queued compilations) first. A signal that arrives while a cell is being
  committed is held until the commit ends, so a computed cell is never dropped halfway.
- the main thread inside a compiled computation (XLA holds it in C++, where Python handlers do not run):
  a watchdog thread, woken by the signal itself (``signal.set_wakeup_fd``), exits the process after
  ``GRACE_S`` seconds if the main thread has not responded, once no commit is in progress.
- second signal: exit at once (after a commit in progress, waiting at most ``COMMIT_WAIT_S``; SQLite's
  atomic commit keeps the store whole even then), printing the same one-line status, no traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

GRACE_S = 2.0  # seconds the main thread has to respond to the first signal before the watchdog exits
COMMIT_WAIT_S = 5.0  # the longest an exit waits for a commit in progress
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_code(signum: int) -> int:
    """The shell's convention for a process ended by a signal: 128 + its number (SIGINT 130, SIGTERM 143)."""
    return 128 + int(signum)


class _State:
    def __init__(self, status: Callable[[int], str]) -> None:
        self.status = status  # signal number -> the one line printed on exit
        self.signum: int | None = None  # the first signal received
        self.count = 0  # signals handled by the Python handler
        self.seen = 0  # signals seen by the watchdog
        self.responded = threading.Event()  # the main thread has run the handler for the first signal
        self.commit = threading.Lock()  # held while a cell is committed
        self.in_commit = False
        self.held: str | None = None  # "interrupt" / "exit": what a signal during the commit asked for
        self.exiting = threading.Lock()
        # False (planning): the first signal ends the process from the handler (no commit of a cell can be
        # under way); True (running cells): it raises KeyboardInterrupt in the main thread, whose caller
        # stops the progress display, closes the store and calls ``exit_now``
        self.raise_interrupt = False


_ACTIVE: _State | None = None


def signalled() -> int | None:
    """The signal that interrupted the current guarded run, or None."""
    return _ACTIVE.signum if _ACTIVE is not None else None


def exit_now(code: int, line: str | None = None) -> None:
    """Print ``line`` on stderr, flush both streams and end the process with ``code`` at once (``os._exit``:
    no interpreter shutdown, which would join the compiler thread)."""
    st = _ACTIVE
    if st is not None and not st.exiting.acquire(blocking=False):
        threading.Event().wait()  # another thread is ending the process
    with contextlib.suppress(Exception):
        if line:
            sys.stderr.write(line.rstrip("\n") + "\n")
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _exit_with_status(st: _State) -> None:
    signum = st.signum or signal.SIGINT
    try:
        line = st.status(signum)
    except Exception:  # the status line is a courtesy; the exit is not
        line = "interrupted: finished cells are stored; run the same command again to resume"
    exit_now(exit_code(signum), line)


def _handler(signum: int, frame: object) -> None:
    """Python-level handler (runs in the main thread, between bytecodes)."""
    st = _ACTIVE
    if st is None:
        raise KeyboardInterrupt
    st.count += 1
    if st.signum is None:
        st.signum = signum
    if st.count == 1:
        st.responded.set()
    if st.in_commit:  # the main thread is committing a cell: finish it first (``committing``)
        st.held = "exit" if st.count > 1 else "interrupt"
        return
    if st.count > 1 or not st.raise_interrupt:
        _exit_with_status(st)
    raise KeyboardInterrupt


def _watch(st: _State, fd: int) -> None:
    """The watchdog: woken by every signal (one byte, the signal number, per signal); it ends, closing ``fd``,
    when the guard closes the pipe's other end."""
    with contextlib.suppress(OSError), os.fdopen(fd, "rb", buffering=0) as pipe:
        while _watch_once(st, pipe.read(64)):
            pass


def _watch_once(st: _State, data: bytes | None) -> bool:
    """Act on the signal numbers read; False once the guard has ended (the pipe is closed)."""
    if not data or _ACTIVE is not st:
        return False
    for b in data:
        if b not in SIGNALS:
            continue
        st.seen += 1
        if st.signum is None:
            st.signum = b
        if st.seen == 1 and st.responded.wait(GRACE_S):
            continue  # the main thread stops the run itself
        if st.seen > 1:
            threading.Event().wait(0.2)  # let the main thread's handler exit first if it can
        st.commit.acquire(timeout=COMMIT_WAIT_S)  # held until the process ends: no commit starts after it
        _exit_with_status(st)
    return True


@contextlib.contextmanager
def committing() -> Iterator[None]:
    """Around the commit of one cell: a signal meanwhile takes effect when the commit has ended."""
    st = _ACTIVE
    if st is None:
        yield
        return
    with st.commit:
        st.in_commit = True
        try:
            yield
        finally:
            st.in_commit = False
    held, st.held = st.held, None
    if held == "exit":
        _exit_with_status(st)
    if held == "interrupt":
        raise KeyboardInterrupt


@contextlib.contextmanager
def guard(status: Callable[[int], str]) -> Iterator[_State]:
    """Handle SIGINT and SIGTERM as described in the module docstring while the block runs; ``status(signum)``
    is the line printed when the process ends from a handler or the watchdog. Yields the state, whose
    ``raise_interrupt`` the caller sets once an interrupt should unwind it. Outside the main thread (where
    Python cannot install handlers) this installs nothing. The previous handlers are restored afterwards."""
    global _ACTIVE
    st = _State(status)
    if threading.current_thread() is not threading.main_thread() or _ACTIVE is not None:
        yield st
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        old_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    except ValueError:
        old_fd = None
    if old_fd is not None and old_fd != -1:  # someone else's wakeup fd (an event loop): keep it, no watchdog
        signal.set_wakeup_fd(old_fd)
        old_fd = None
    _ACTIVE = st
    for s in SIGNALS:
        signal.signal(s, _handler)
    if old_fd is not None:
        threading.Thread(target=_watch, args=(st, r), name="depthlab-interrupts", daemon=True).start()
    try:
        yield st
    finally:
        for s in SIGNALS:
            signal.signal(s, previous[s])
        if old_fd is not None:
            signal.set_wakeup_fd(-1)
        _ACTIVE = None
        os.close(w)  # the watchdog's read returns b"": it ends and closes r
        if old_fd is None:
            os.close(r)
