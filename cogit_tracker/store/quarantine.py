"""Ops a store refused: told apart from a store that is down, and set aside with the reason.

A store that does not answer is a matter of time: its ops wait in the spool, in order. A store
that answers and says no (an illegal key, a param changed, a run it does not have) will say no
again: retrying that op forever would hold back every op behind it. So a refused op goes to a
quarantine file beside the spool (`<spool dir>/quarantine/*.jsonl`, one JSON line per op
with its reason, secrets masked), a warning says where, and every other op goes on.

A store that cannot be opened at all (a schema of another version or another application, a
failed migration, a missing database) also answered: its ops wait in the spool as for one
that is down, but every message says what it answered (`Failure`), never that it did not.
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..redaction import redact
from . import uri as store_uri
from .ops import Op

#: HTTP statuses of an answer that will not change on retry (MLflow maps its error codes to
#: these: INVALID_PARAMETER_VALUE and BAD_REQUEST 400, RESOURCE_DOES_NOT_EXIST 404, ...)
REFUSING = frozenset({400, 404, 409, 413, 422})
#: ... and of a store that is there but cannot serve now: wait for it, as for one that is down
BUSY = frozenset({429, 502, 503, 504})
#: where SQLAlchemy's additions to a database's message start: the statement and its
#: parameters, then a link to its docs
SQL_SUFFIX = re.compile(r"\n\[SQL: |\n\(Background on this error at: ")


def refused(exc: BaseException) -> bool:
    """Whether `exc` is the store (or the client before sending) rejecting the op itself.
    False means it may be the store being away: an unanswered request, a locked database
    (TEMPORARILY_UNAVAILABLE), an internal error; the writer then asks whether the store
    answers at all before it decides."""
    from mlflow.exceptions import MlflowException

    if isinstance(exc, MlflowException):
        return exc.get_http_status_code() in REFUSING
    # a run the store lacks (ops.Applier), a value the client refuses before sending
    return isinstance(exc, (LookupError, ValueError, TypeError, ArithmeticError))


def rejected(exc: BaseException, applier) -> bool:
    """`refused`, or an ambiguous failure (an internal error, a file that is gone) while the
    store answers a trivial request: either way this op, not the store, is the problem."""
    from mlflow.exceptions import MlflowException

    if refused(exc):
        return True
    if isinstance(exc, MlflowException) and exc.get_http_status_code() in BUSY:
        return False
    return applier.answers()


def reason(exc: BaseException) -> str:
    """One line saying why, secrets masked: the database's own words, without the statement
    and parameters SQLAlchemy appends (a failed migration's CREATE TABLE is dozens of lines)."""
    text = SQL_SUFFIX.split(str(exc), maxsplit=1)[0]
    return " ".join(redact(f"{type(exc).__name__}: {text}").split())[:2000]


@dataclass(frozen=True)
class Failure:
    """Why a store took no ops: it did not answer (`answered` False), or it answered with an
    error, `text` saying which (one line, secrets masked)."""

    text: str
    answered: bool

    @classmethod
    def of(cls, exc: BaseException, uri: str) -> "Failure":
        from .schema_version import explain

        return cls(explain(exc, uri) or reason(exc), not store_uri.unanswered(exc, uri))

    def says(self, store: str) -> str:
        """`tracking store <store> does not answer (...)` or `... answered with an error
        (...)`, for warnings and the exit line."""
        verb = "answered with an error" if self.answered else "does not answer"
        return f"tracking store {store} {verb} ({self.text})"


@dataclass
class Quarantine:
    """The refused ops of one process, appended to one file in `folder`."""

    folder: Path
    store: str                     # the store that refused them, as shown (redacted)
    count: int = 0
    _path: Path | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def add(self, op: Op, why: str) -> None:
        """Keep `op` with `why`; warn on the first one. Never raises: a quarantine that cannot
        be written only warns, since the op could not be stored anyway."""
        line = json.dumps({"reason": why, "store": self.store, "at": time.time(),
                           "op": op}, default=str)
        with self._lock:
            self.count += 1
            first = self.count == 1
            if self._path is None:
                self._path = self.folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.jsonl"
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                with self._path.open("a", encoding="utf-8") as fh:
                    fh.write(redact(line) + "\n")
                where = str(self._path)
            except OSError as exc:
                where = f"nowhere ({exc.strerror or exc})"
        if first:
            warnings.warn(f"cogit-tracker: {self.store} refused a {op.get('op')} op ({why}); "
                          f"kept in {where}; every other op goes on", stacklevel=2)
