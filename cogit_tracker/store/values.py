"""What a store accepts, checked when a value is logged, so a bad one is dropped alone.

A store refuses a whole batch for one bad item (a metric key with `!`, an empty or 300-character
key, a step of 2**63, a param logged again with another value), and a batch holds up to 1,000
points of the experiment's good data. So the run handles check every key and value here,
against MLflow's own rules (the limits are in `schema.py`), before anything is queued: what
fails is dropped with one warning per key and problem, and the rest is logged. Values are
also masked (`redaction.redact`) before they leave the process: all of a value whose key names
a secret (`api_key`, `auth_header`, `HF_TOKEN`), the secret-shaped parts of any other.
"""
from __future__ import annotations

import posixpath
import re
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import schema
from ..redaction import redact

_KEY = re.compile(schema.KEY_CHARACTERS)
_said: set[tuple] = set()
_said_lock = threading.Lock()


def warn_once(what: tuple, message: str) -> None:
    """Warn about `what` the first time only: a loop logging a bad key 10,000 times says so
    once."""
    with _said_lock:
        if what in _said:
            return
        _said.add(what)
    warnings.warn(f"cogit-tracker: {redact(message)} (said once)", stacklevel=4)


def key_problem(key: Any) -> str | None:
    """Why MLflow would refuse `key` as a metric, param or tag key; None if it accepts it."""
    if not isinstance(key, str):
        return f"is a {type(key).__name__}, not text"
    if not key:
        return "is empty"
    if len(key) > schema.MAX_KEY:
        return f"is {len(key)} characters long; at most {schema.MAX_KEY} are accepted"
    if not _KEY.match(key):
        return f"holds a character MLflow refuses; accepted: {schema.KEY_CHARACTERS_SAID}"
    norm = posixpath.normpath(key)
    if norm != key or norm == "." or norm.startswith(("..", "/")):
        return f"would read as the path {norm!r}; give it without '//', './', '..' or a leading '/'"
    return None


def _checked_keys(kind: str, items: Mapping[Any, Any]) -> dict[str, Any]:
    out = {}
    for key, value in items.items():
        problem = key_problem(key)
        if problem is None and redact(key) != key:
            problem = "holds what looks like a secret"
        if problem is None:
            out[key] = value
        else:
            warn_once((kind, "key", repr(key)[:300]), f"{kind} key {str(key)[:80]!r} {problem}; "
                      "not logged")
    return out


def number(value: Any) -> float | None:
    """`value` as the float a metric holds, or None (text, a bool, None, a tensor of many)."""
    if value is None or isinstance(value, (bool, str, bytes)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def step_of(step: Any) -> int | None:
    """A metric step as the 64-bit integer a store keeps, or None."""
    if step is None:
        return 0
    if isinstance(step, bool):
        return None
    try:
        whole = int(step)
    except (TypeError, ValueError, OverflowError):
        return None
    low, high = schema.STEP_RANGE
    return whole if whole == step and low <= whole <= high else None


def metrics(points: Mapping[Any, Any], step: Any) -> tuple[dict[str, float], int]:
    """The points MLflow accepts and their step; the others are dropped with a warning (all
    of them when the step itself is refused)."""
    at = step_of(step)
    if at is None:
        warn_once(("metric", "step", repr(step)[:100]),
                  f"metric step {str(step)[:80]!r} is not accepted: a whole number from "
                  f"-2**63 to 2**63-1; {len(points)} point(s) at that step not logged")
        return {}, 0
    clean = {}
    for key, value in _checked_keys("metric", points).items():
        as_float = number(value)
        if as_float is None:
            warn_once(("metric", "value", key), f"metric {key!r} = {str(value)[:80]!r} is not "
                      "a number; not logged")
        else:
            clean[key] = as_float
    return clean, at


def _text(kind: str, key: str, value: Any, limit: int) -> str:
    text = redact(str(value), name=key)
    if len(text) > limit:
        warn_once((kind, "long", key), f"{kind} {key!r} is {len(text):,} characters long; "
                  f"cut to the {limit:,} MLflow keeps")
        text = text[:limit]
    return text


def params(items: Mapping[Any, Any], logged: dict[str, str]) -> dict[str, str]:
    """The params to send. `logged` holds what this run already has (updated here): MLflow
    keeps a param's first value and refuses another, so a changed value is reported and
    dropped, and an unchanged one is not sent again."""
    out = {}
    for key, value in _checked_keys("param", items).items():
        text = _text("param", key, value, schema.MAX_PARAM_VALUE)
        if key not in logged:
            logged[key] = out[key] = text
        elif logged[key] != text:
            warn_once(("param", "conflict", key), f"param {key!r} is already {logged[key]!r} "
                      f"on this run; MLflow keeps a param's first value, so {text!r} is not "
                      "logged (log it under another key)")
    return out


def tags(items: Mapping[Any, Any]) -> dict[str, str]:
    """The tags to send: accepted keys, values masked and cut to MLflow's limit."""
    return {key: _text("tag", key, value, schema.MAX_TAG_VALUE)
            for key, value in _checked_keys("tag", items).items()}


def artifact(path: str | Path) -> bool:
    """Whether `path` can be logged now (it exists); a missing one warns and is dropped."""
    if Path(path).exists():
        return True
    warn_once(("artifact", str(path)), f"artifact {str(path)!r} does not exist; not logged")
    return False
