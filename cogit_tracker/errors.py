"""The one exception type that means "the user gave us a bad value".

Library code raises `BadInput` with a single line naming the bad value and what is accepted;
the CLI turns it into exit code 2 without a traceback. Anything else is a bug or a failure
of the experiment itself and keeps its traceback.
"""
from __future__ import annotations

import math


class BadInput(ValueError):
    """A bad value from the user: one line, naming the value and what is accepted."""


def check_number(what: str, value: float, low: float, accepted: str,
                 low_included: bool = False) -> float:
    """`value` if it is finite and above `low` (or equal to it, when `low_included`), else
    BadInput naming it: a NaN slips past every comparison, so ranges are checked here."""
    if not math.isfinite(value) or value < low or (value == low and not low_included):
        raise BadInput(f"{what} {value:g}: accepted is {accepted}")
    return value


class Failure(RuntimeError):
    """What a command could not do through no fault of its input (a store that is down, a
    record that is corrupt, a campaign another process holds): one line, exit 1, as for a
    failed check."""
class Unknown(BadInput):
    """A well-formed name of something the store does not hold (a campaign label, a decision
    number): bad input to the CLI (exit 2), and "not found" (404) to the web pages."""


# --- store access (issue 6: server) ---------------------------------------------------------
class StoreFailure(Failure):
    """The tracking store refused us or did not answer. Not bad input (a credential is never
    echoed, and a server that is down is nothing the command line can name)."""


class Denied(Failure):
    """The asker may see what they name but not change it (under logins, MLflow's EDIT
    permission on its experiment): exit 1, 403 to the web pages."""


class Conflict(Failure):
    """Another process holds what this one needs (a campaign it is running or resuming);
    waiting may help."""


def store_failure(exc: BaseException) -> StoreFailure | None:
    """One clear line if `exc` is MLflow's 401/403 or a store that does not answer, else None.

    Lines about credentials name the variables to set, never their values."""
    import os

    code = getattr(exc, "error_code", None)
    if code == "UNAUTHENTICATED":
        if not (os.environ.get("MLFLOW_TRACKING_PASSWORD") or os.environ.get("MLFLOW_TRACKING_TOKEN")):
            return StoreFailure("the tracking server wants credentials; set "
                                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD "
                                "(or MLFLOW_TRACKING_TOKEN)")
        return StoreFailure("the tracking server refused the credentials in "
                            "MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD "
                            "(or MLFLOW_TRACKING_TOKEN): check them")
    if code == "PERMISSION_DENIED":
        user = os.environ.get("MLFLOW_TRACKING_USERNAME", "this user")
        return StoreFailure(f"the tracking server denied {user!r} this operation "
                            "(ask an admin for permission on the experiment)")
    url = _unanswered_url(exc)
    if url:
        return StoreFailure(f"the tracking server at {url} does not answer (is it running? "
                            "MLflow retried; MLFLOW_HTTP_REQUEST_MAX_RETRIES sets how often)")
    return None


def _unanswered_url(exc: BaseException) -> str | None:
    """scheme://host:port of a request that failed to connect (MLflow wraps requests' error)."""
    from urllib.parse import urlsplit

    import requests

    cause, seen = exc.__cause__ or exc.__context__, 0
    while cause is not None and seen < 10:
        if isinstance(cause, requests.exceptions.ConnectionError):
            request = getattr(cause, "request", None)
            parts = urlsplit(getattr(request, "url", "") or "")
            return f"{parts.scheme}://{parts.hostname}:{parts.port}" if parts.hostname else "?"
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return None
