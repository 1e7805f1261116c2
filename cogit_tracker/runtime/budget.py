"""Stopping a campaign whose budget is spent, or that someone asked to stop, whatever the
process does with its signals.

A stop by signal does not hold: `_thread.interrupt_main()` is a simulated SIGINT, and a process
started with SIGINT ignored (`nohup python phase3.py &`, or `&` in a script: the usual way to
leave a job running on a rented pod) installs no KeyboardInterrupt handler, so nothing
happens; a user's own SIGINT handler, a `KeyboardInterrupt` caught in a training loop, a main
thread inside a long C call or work in other threads each let the job run on and the money
burn. So when the monitor sees the budget spent (or a stop asked for from elsewhere,
`stop.py`: the same stop for another `Reason`), a `Stopper` thread:

1. records `cogit.failure=budget` (`stopped`) on the campaign and its open phases, and
   flushes, so the record is there whatever comes next;
2. raises `BudgetStop` (`RequestedStop`; both KeyboardInterrupts) in every thread inside one
   of the campaign's `with` blocks, through CPython's `PyThreadState_SetAsyncExc`, which needs
   no signal; the phase turns it into `BudgetExceeded` (`StopRequested`);
   and in every thread the campaign started that keeps the process alive (a data loader's,
   a pool's, the user's own workers: they would go on logging and burning the GPU after the
   phase has unwound);
3. waits for the campaign to unwind, then for those threads to end; if for
   `COGIT_BUDGET_GRACE_S` (30 s) nothing has unwound (the exception was caught, or the thread
   is in a long C call, or blocked on other threads; time spent recording a run's end does
   not count), or a worker thread still runs after it, ends every open run KILLED/budget,
   flushes, stops the processes the experiment started (forked workers outlive `os._exit`),
   and ends the process with exit code 124 (as `timeout` does);
4. runs the `on_budget` command (`COGIT_ON_BUDGET`, e.g. the provider's "stop this pod"), or
   for a requested stop `on_stop` (`COGIT_ON_STOP`), once, after the runs are recorded, and
   records its exit status and output on the campaign.

One stop per campaign, whichever reason comes first: the other is then moot.
"""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from .. import schema, settings
from ..redaction import redact
from .ending import BudgetExceeded, Kind, Reason, StopRequested

EXIT_CODE = 124          # what the process ends with when the grace period runs out
COMMAND_TIMEOUT_S = 300  # the on_budget command's time limit
OUTPUT_TAIL = 4000       # characters of the command's output kept on the campaign


class BudgetStop(KeyboardInterrupt):
    """Raised asynchronously in a thread running a campaign whose budget is spent. A
    KeyboardInterrupt, so `except Exception` in a training loop does not swallow it, and code
    that cleans up on Ctrl-C cleans up here too."""


class RequestedStop(KeyboardInterrupt):
    """Raised asynchronously in a thread running a campaign that someone asked to stop
    (`cogit-log runs stop`, the web's Stop); a KeyboardInterrupt for the same reasons as
    BudgetStop. The phase turns it into `StopRequested`."""


BUDGET = Kind("budget", "budget exhausted", BudgetStop, BudgetExceeded,
              (schema.BUDGET_COMMAND, schema.BUDGET_COMMAND_STATUS,
               schema.BUDGET_COMMAND_OUTPUT))
REQUEST = Kind("stopped", "stop requested", RequestedStop, StopRequested,
               (schema.STOP_COMMAND, schema.STOP_COMMAND_STATUS, schema.STOP_COMMAND_OUTPUT))


KINDS = {kind.failure: kind for kind in (BUDGET, REQUEST)}  # cogit.failure -> its Kind


def reason_of(exc: BaseException | None) -> Reason | None:
    """The stop an exception leaving a campaign stands for (a BudgetExceeded from a phase),
    so that the campaign is recorded as stopped for it too."""
    for kind in KINDS.values():
        if isinstance(exc, kind.ending):
            return Reason(kind, str(exc))
    return None


def _raise_in(thread_id: int, exc: type[BaseException] | None) -> None:
    """Schedule `exc` in the thread (None: cancel what is scheduled). No signal involved."""
    target = ctypes.py_object(exc) if exc is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target)


@dataclass
class Stopper:
    """The stop of one campaign (see the module doc)."""

    label: str
    commands: Mapping[str, str | None]  # Kind.failure -> its shell command (None: none)
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
        exit looks at the stop afterwards and raises its exception itself."""
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

    def stop(self, reason: Reason) -> None:
        """The monitor saw the budget spent or a stop asked for: start the stop, once."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._stop, args=(reason,),
                                            name="cogit-stop", daemon=True)
            self._thread.start()

    def unwound(self) -> None:
        """The campaign has ended its runs: run the command (if it was stopped) and wait for
        it, so the process does not exit under it."""
        self._unwound.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(COMMAND_TIMEOUT_S + 30)

    def _stop(self, reason: Reason) -> None:
        deadline = time.monotonic() + self.grace_s
        runs = self.open_runs()
        for run in runs:
            run.set_tags({schema.FAILURE: reason.kind.failure,
                          schema.FAILURE_MESSAGE: reason.note})
        with self._lock:
            targets = set(self._bodies) - self._shielded
            for ident in targets | {t.ident for t in self._workers()}:
                _raise_in(ident, reason.kind.interrupt)
        if runs:
            runs[-1].flush(settings.CONNECT_TIMEOUT.get())
        self._wait_unwound(deadline, reason)
        self._wait_workers(reason)
        self._run_command(runs[-1] if runs else None, reason)

    def _workers(self) -> list[threading.Thread]:
        """The threads the campaign started that keep the process alive (not daemons, not
        cogit's own): a data loader's, a worker pool's, the user's own."""
        return [t for t in threading.enumerate()
                if t.ident not in self._before and t is not threading.current_thread()
                and not t.daemon and not t.name.startswith("cogit-") and t.is_alive()]

    def _wait_workers(self, reason: Reason) -> None:
        """Once the campaign has unwound, its worker threads have the grace period to end
        (the stop was raised in them too); one still running after it would keep the process
        and its GPU going: the process ends."""
        deadline = time.monotonic() + self.grace_s
        while self._workers():
            if time.monotonic() >= deadline:
                names = ", ".join(sorted(t.name for t in self._workers()))
                self._end_process(Reason(reason.kind,
                                         f"{reason.note}; its threads {names} did not stop"))
            time.sleep(0.2)

    def _wait_unwound(self, deadline: float, reason: Reason) -> None:
        while not self._unwound.wait(0.2):
            with self._lock:
                recording = bool(self._shielded)
            if recording:  # an exit is writing the runs' end: unwinding, however slow the store
                deadline = time.monotonic() + self.grace_s
            elif time.monotonic() >= deadline:
                self._end_process(reason)

    def _end_process(self, reason: Reason) -> None:
        """The campaign did not unwind in time: record its end, run the command, exit."""
        from ..store import writer

        runs = self.open_runs()
        for run in runs:
            run.end_stopped(reason)
        if runs:
            runs[-1].flush(settings.EXIT_FLUSH.get())
        self._run_command(runs[-1] if runs else None, reason)
        writer.close_all()
        _end_children()
        print(f"cogit-tracker: campaign {self.label!r}: {reason.note}; it did not stop within "
              f"{self.grace_s:g}s of being interrupted, so the process ends (exit code "
              f"{EXIT_CODE})", file=sys.stderr, flush=True)
        os._exit(EXIT_CODE)

    def _run_command(self, campaign, reason: Reason) -> None:
        command = self.commands.get(reason.kind.failure)
        if not command:
            return
        status, output = run_command(command, reason.kind.summary)
        if campaign is not None:
            names = reason.kind.command_tags
            campaign.set_tags(dict(zip(names, (command, status, output))))
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


def run_command(command: str, why: str = "budget exhausted") -> tuple[str, str]:
    """Run the on_budget (on_stop) command in a shell: (exit status or why there is none, the
    tail of its output), both masked."""
    print(f"cogit-tracker: {why}: running {redact(command)!r}", file=sys.stderr, flush=True)
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
