"""Keeping secrets in the process: what is recorded or printed goes through here first.

Two kinds of secret reach us: environment variables named like one (`HF_TOKEN`,
`AWS_SECRET_ACCESS_KEY`, `MLFLOW_TRACKING_PASSWORD`) and passwords inside URIs
(`postgresql://user:pw@host/db`, as in `MLFLOW_TRACKING_URI`). A masked value keeps its shape
(`postgresql://user:***@host/db`), so a reader still sees which account and host were meant.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

REDACTED = "***"
SECRET_MARKERS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL")
_URI_PASSWORD = re.compile(r"(://[^/:@\s]+:)[^@/\s]+@")


def is_secret(name: str) -> bool:
    """Whether an environment variable's value must not be recorded. Broad on purpose (any
    name containing KEY, TOKEN, ...): over-redacting costs a value, under-redacting a leak.
    Covers AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, HF_TOKEN,
    HUGGING_FACE_HUB_TOKEN, MLFLOW_TRACKING_PASSWORD."""
    upper = name.upper()
    return any(marker in upper for marker in SECRET_MARKERS)


def redact_uri(text: str) -> str:
    """`text` with the password of every URI in it masked: safe to print, tag or log."""
    return _URI_PASSWORD.sub(rf"\g<1>{REDACTED}@", text)


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """A copy safe to log: secret names get `***`, passwords inside URIs are masked."""
    return {name: REDACTED if is_secret(name) else redact_uri(value)
            for name, value in env.items()}
