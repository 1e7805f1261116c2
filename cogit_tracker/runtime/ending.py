"""How a run ends: its MLflow status and failure class, and the signals that end it.

A CUDA OOM, any other exception, Ctrl-C, SIGTERM and an exhausted budget each leave a run in
a status with a `cogit.failure` tag, so `runs list` and the reports say why it stopped. The
user's exception always propagates; a failure of tracking itself only warns.
"""
from __future__ import annotations

import signal
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from .. import schema
from ..redaction import redact


class CampaignStopped(RuntimeError):
    """Raised out of a phase that its campaign stopped on its own account (`budget.py`): its
    budget is spent, or someone asked it to stop. Catch this to handle both."""


class BudgetExceeded(CampaignStopped):
    """Raised out of a phase that the campaign's `budget_usd` stopped (`budget.py`)."""


class StopRequested(CampaignStopped):
    """Raised out of a phase of a campaign that someone asked to stop from elsewhere
    (`cogit-log runs stop`, the web's Stop button: `stop.py`); the message says who and when."""


@dataclass(frozen=True)
class Kind:
    """One reason a campaign stops on its own account, and what each step of the stop uses."""

    failure: str                            # the runs' `cogit.failure`
    summary: str                            # what the phase's exception says
    interrupt: type[KeyboardInterrupt]      # raised in the campaign's threads
    ending: type[CampaignStopped]           # raised out of the phase
    command_tags: tuple[str, str, str]      # where its command, status and output are kept


@dataclass(frozen=True)
class Reason:
    """Why this campaign is being stopped: its kind, and the note its runs carry (e.g.
    "budget $2.00 spent ($2.03 so far)", "stop requested by ana at 2026-12-08 01:02:03 UTC")."""

    kind: Kind
    note: str

    def exception(self, what: str) -> CampaignStopped:
        """What the user's code sees leave a phase or campaign stopped for this reason, e.g.
        "phase 'train' stopped: budget $4.00 spent ($4.10 so far)"."""
        return self.kind.ending(f"{what}: {self.note}")


class Terminated(SystemExit):
    """Raised in the main thread by our SIGTERM handler so `with` blocks unwind and record."""


@contextmanager
def quiet(what: str) -> Iterator[None]:
    """Tracking never breaks the experiment: a failure here warns and the phase goes on."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - deliberately broad, see docstring
        warnings.warn(redact(f"cogit-tracker: {what} failed: {exc}"), stacklevel=3)


def classify(exc: BaseException | None,
             stop: Reason | None = None) -> tuple[str, dict[str, str]]:
    """MLflow status and failure tags for how a run ended. Once the campaign is stopping
    (`stop`: its budget spent, or a stop asked for), a run that ends without an error of its
    own ended because of that (the stop raises a KeyboardInterrupt, and may find the run just
    finishing)."""
    if stop is not None and (exc is None or isinstance(exc, (KeyboardInterrupt,
                                                             CampaignStopped))):
        return "KILLED", {schema.FAILURE: stop.kind.failure,
                          schema.FAILURE_MESSAGE: stop.note or str(exc) or stop.kind.summary}
    if exc is None:
        return "FINISHED", {}
    if isinstance(exc, Terminated):
        return "KILLED", {schema.FAILURE: "sigterm", schema.FAILURE_MESSAGE: "SIGTERM received"}
    if isinstance(exc, KeyboardInterrupt):
        return "KILLED", {schema.FAILURE: "interrupted", schema.FAILURE_MESSAGE: "KeyboardInterrupt"}
    message = redact(f"{type(exc).__name__}: {_text(exc)}")[:schema.MAX_TAG_VALUE]
    if type(exc).__name__ == "OutOfMemoryError" and type(exc).__module__.startswith("torch"):
        return "FAILED", {schema.FAILURE: "cuda_oom", schema.FAILURE_MESSAGE: message}
    return "FAILED", {schema.FAILURE: "exception", schema.FAILURE_MESSAGE: message}


def _text(exc: BaseException) -> str:
    """The exception's message; one whose `__str__` raises must still leave the run ended,
    not RUNNING."""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - any failure of the user's __str__
        return f"(its message could not be read: {type(exc).__name__}.__str__ raised)"


# -- SIGTERM: unwind like an exception, then behave as the previous handler would -----------
_previous_sigterm: Any = None
_sigterm_installed = False
_held = False      # a rank is recording its end: a SIGTERM now waits (`sigterm_held`)
_pending = False   # ... and one came


@contextmanager
def sigterm_held() -> Iterator[None]:
    """While a rank of a job records its end it waits for the other ranks' (`ranks.others`),
    which is when the launcher tears the job down with SIGTERM: raised there, it would cut
    the record short. Held in the main thread, it is raised by `raise_held` once the `with`
    block has recorded."""
    global _held
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    was, _held = _held, True
    try:
        yield
    finally:
        _held = was


def raise_held() -> None:
    """At the end of a `with` block that raised nothing: a SIGTERM held while it recorded its
    end is raised now (an exception on its way out ends the process anyway)."""
    global _pending
    if _pending and not _held:
        _pending = False
        raise Terminated(128 + signal.SIGTERM)


def _on_sigterm(signum, frame) -> None:
    global _pending
    if _held:
        _pending = True
        return
    if callable(_previous_sigterm):
        _previous_sigterm(signum, frame)  # the user's handler first; if it returns, go on
        return
    if _previous_sigterm == signal.SIG_IGN:
        return
    raise Terminated(128 + signum)


def install_sigterm() -> None:
    """Once per process, from the main thread: SIGTERM unwinds the `with` blocks."""
    global _previous_sigterm, _sigterm_installed
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    _previous_sigterm = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _on_sigterm)
    _sigterm_installed = True
