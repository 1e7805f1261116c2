"""Stopping a campaign whose budget is spent, whatever the process does with its signals.

A stop by signal does not hold: `_thread.interrupt_main()` is a simulated SIGINT, and a process
started with SIGINT ignored (`nohup python phase3.py &`, or `&` in a script: the usual way to
leave a job running on a rented pod) installs no KeyboardInterrupt handler, so nothing
happens; a user's own SIGINT handler, a `KeyboardInterrupt` caught in a training loop, a main
thread inside a long C call or work in other threads each let the job run on and the money
burn. So when the monitor sees the budget spent, a `Stopper` thread:

1. records `cogit.failure=budget` on the campaign and its open phases, and flushes, so the
   record is there whatever comes next;
2. raises `BudgetStop` (a KeyboardInterrupt) in every thread inside one of the campaign's
   `with` blocks, through CPython's `PyThreadState_SetAsyncExc`, which needs no signal; the
   phase turns it into `BudgetExceeded`;
   and in every thread the campaign started that keeps the process alive (a data loader's,
   a pool's, the user's own workers: they would go on logging and burning the GPU after the
   phase has unwound);
3. waits for the campaign to unwind, then for those threads to end; if for
   `COGIT_BUDGET_GRACE_S` (30 s) nothing has unwound (the exception was caught, or the thread
   is in a long C call, or blocked on other threads; time spent recording a run's end does
   not count), or a worker thread still runs after it, ends every open run KILLED/budget,
   flushes, stops the processes the experiment started (forked workers outlive `os._exit`),
   and ends the process with exit code 124 (as `timeout` does);
4. runs the `on_budget` command (`COGIT_ON_BUDGET`, e.g. the provider's "stop this pod")
   once, after the runs are recorded, and records its exit status and output on the campaign.
"""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .. import schema, settings
from ..redaction import redact

EXIT_CODE = 124          # what the process ends with when the grace period runs out
COMMAND_TIMEOUT_S = 300  # the on_budget command's time limit
OUTPUT_TAIL = 4000       # characters of the command's output kept on the campaign


class BudgetStop(KeyboardInterrupt):
    """Raised asynchronously in a thread running a campaign whose budget is spent. A
    KeyboardInterrupt, so `except Exception` in a training loop does not swallow it, and code
    that cleans up on Ctrl-C cleans up here too."""


def _raise_in(thread_id: int, exc: type[BaseException] | None) -> None:
    """Schedule `exc` in the thread (None: cancel what is scheduled). No signal involved."""
    target = ctypes.py_object(exc) if exc is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target)


@dataclass
class Stopper:
    """The budget stop of one campaign (see the module doc)."""

    label: str
    command: str | None
    open_runs: Callable[[], list]     # the campaign's open runs: its phases, then itself
    grace_s: float = field(default_factory=settings.BUDGET_GRACE.get)
    _bodies: Counter = field(default_factory=Counter)   # thread id -> open with blocks
    _shielded: set = field(default_factory=set)         # threads recording a run's end
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _unwound: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    #: the threads there were before the campaign: those started since are its workers
    _before: frozenset = field(default_factory=lambda: frozenset(
        t.ident for t in threading.enumerate()))

    def enter(self) -> None:
        """The current thread enters one of the campaign's `with` blocks."""
        with self._lock:
            self._bodies[threading.get_ident()] += 1

    @contextmanager
    def exiting(self) -> Iterator[None]:
        """The current thread leaves one of those blocks: while its exit records the run's
        end, no stop may be raised in it (one scheduled and not yet raised is cancelled); the
        exit looks at the budget afterwards and raises BudgetExceeded itself."""
        ident = threading.get_ident()
        with self._lock:
            self._shielded.add(ident)
            _raise_in(ident, None)
        try:
            yield
        finally:
            with self._lock:
                self._shielded.discard(ident)
                self._bodies[ident] -= 1
                if self._bodies[ident] <= 0:
                    del self._bodies[ident]

    def spent(self, note: str) -> None:
        """The monitor saw the budget spent: start the stop, once."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._stop, args=(note,),
                                            name="cogit-budget", daemon=True)
            self._thread.start()

    def unwound(self) -> None:
        """The campaign has ended its runs: run the command (if the budget was spent) and
        wait for it, so the process does not exit under it."""
        self._unwound.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(COMMAND_TIMEOUT_S + 30)

    def _stop(self, note: str) -> None:
        deadline = time.monotonic() + self.grace_s
        runs = self.open_runs()
        for run in runs:
            run.set_tags({schema.FAILURE: "budget", schema.FAILURE_MESSAGE: note})
        with self._lock:
            targets = set(self._bodies) - self._shielded
            for ident in targets | {t.ident for t in self._workers()}:
                _raise_in(ident, BudgetStop)
        if runs:
            runs[-1].flush(settings.CONNECT_TIMEOUT.get())
        self._wait_unwound(deadline, note)
        self._wait_workers(note)
        self._run_command(runs[-1] if runs else None)

    def _workers(self) -> list[threading.Thread]:
        """The threads the campaign started that keep the process alive (not daemons, not
        cogit's own): a data loader's, a worker pool's, the user's own."""
        return [t for t in threading.enumerate()
                if t.ident not in self._before and t is not threading.current_thread()
                and not t.daemon and not t.name.startswith("cogit-") and t.is_alive()]

    def _wait_workers(self, note: str) -> None:
        """Once the campaign has unwound, its worker threads have the grace period to end
        (the stop was raised in them too); one still running after it would keep the process
        and its GPU going: the process ends."""
        deadline = time.monotonic() + self.grace_s
        while self._workers():
            if time.monotonic() >= deadline:
                names = ", ".join(sorted(t.name for t in self._workers()))
                self._end_process(f"{note}; its threads {names} did not stop")
            time.sleep(0.2)

    def _wait_unwound(self, deadline: float, note: str) -> None:
        while not self._unwound.wait(0.2):
            with self._lock:
                recording = bool(self._shielded)
            if recording:  # an exit is writing the runs' end: unwinding, however slow the store
                deadline = time.monotonic() + self.grace_s
            elif time.monotonic() >= deadline:
                self._end_process(note)

    def _end_process(self, note: str) -> None:
        """The campaign did not unwind in time: record its end, run the command, exit."""
        from ..store import writer

        runs = self.open_runs()
        for run in runs:
            run.end_stopped(note)
        if runs:
            runs[-1].flush(settings.EXIT_FLUSH.get())
        self._run_command(runs[-1] if runs else None)
        writer.close_all()
        _end_children()
        print(f"cogit-tracker: campaign {self.label!r}: {note}; it did not stop within "
              f"{self.grace_s:g}s of being interrupted, so the process ends (exit code "
              f"{EXIT_CODE})", file=sys.stderr, flush=True)
        os._exit(EXIT_CODE)

    def _run_command(self, campaign) -> None:
        if not self.command:
            return
        status, output = run_command(self.command)
        if campaign is not None:
            campaign.set_tags({schema.BUDGET_COMMAND: self.command,
                               schema.BUDGET_COMMAND_STATUS: status,
                               schema.BUDGET_COMMAND_OUTPUT: output})
            campaign.flush(settings.CONNECT_TIMEOUT.get())


def _end_children(wait_s: float = 2.0) -> None:
    """The processes the experiment started (forked data-loader or pool workers) would
    outlive `os._exit` and keep the GPU busy: SIGTERM, then SIGKILL for those still there
    after `wait_s`."""
    import psutil

    try:
        children = psutil.Process().children(recursive=True)
        for child in children:
            child.terminate()
        _, alive = psutil.wait_procs(children, timeout=wait_s)
        for child in alive:
            child.kill()
    except psutil.Error:  # a child that ended meanwhile
        pass


def run_command(command: str) -> tuple[str, str]:
    """Run the on_budget command in a shell: (exit status or why there is none, the tail of
    its output), both masked."""
    print(f"cogit-tracker: budget spent: running {redact(command)!r}", file=sys.stderr,
          flush=True)
    try:
        done = subprocess.run(command, shell=True, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        return f"timeout after {COMMAND_TIMEOUT_S}s", _tail(exc.output)
    except OSError as exc:
        return f"could not start: {exc.strerror or exc}", ""
    return str(done.returncode), _tail(done.stdout)


def _tail(output: bytes | None) -> str:
    text = (output or b"").decode("utf-8", errors="replace")
    return redact(text[-OUTPUT_TAIL:])
