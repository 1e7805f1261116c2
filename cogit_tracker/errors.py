"""The one exception type that means "the user gave us a bad value".

Library code raises `BadInput` with a single line naming the bad value and what is accepted;
the CLI turns it into exit code 2 without a traceback. Anything else is a bug or a failure
of the experiment itself and keeps its traceback.
"""
from __future__ import annotations


class BadInput(ValueError):
    """A bad value from the user: one line, naming the value and what is accepted."""


# --- store access (issue 6: server) ---------------------------------------------------------
class AccessDenied(RuntimeError):
    """The tracking server refused our credentials. Not bad input (nothing the command line can
    name: the secret must never be echoed), so the CLI exits 1, as for a failed check."""


CREDENTIAL_VARS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


def access_denied(exc: BaseException) -> AccessDenied | None:
    """An `AccessDenied` with one clear line if `exc` is MLflow's 401/403, else None.

    The line names the variables to set, never their values."""
    import os

    code = getattr(exc, "error_code", None)
    if code == "UNAUTHENTICATED":
        if not (os.environ.get("MLFLOW_TRACKING_PASSWORD") or os.environ.get("MLFLOW_TRACKING_TOKEN")):
            return AccessDenied("the tracking server wants credentials: set "
                                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD "
                                "(or MLFLOW_TRACKING_TOKEN)")
        return AccessDenied("the tracking server refused the credentials in "
                            "MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD "
                            "(or MLFLOW_TRACKING_TOKEN): check them")
    if code == "PERMISSION_DENIED":
        user = os.environ.get("MLFLOW_TRACKING_USERNAME", "this user")
        return AccessDenied(f"the tracking server denied {user!r} this operation "
                            "(ask an admin for permission on the experiment)")
    return None
