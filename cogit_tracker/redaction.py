"""Keeping secrets in the process: what is recorded or printed goes through here first.

Everything that leaves the process (tags, params, artifacts we write such as
`environment.json`, the spool and its quarantine, warnings, every error line, stdout) passes
one of these functions, so there is one idea of what a secret looks like:

- a name that says it holds one (`HF_TOKEN`, `DB_PASS`, `SENTRY_DSN`, `--api-key`): the
  whole value is masked;
- the user info of a URI (`postgresql://user:pw@host/db`, `redis://:pw@host`, a DSN's key in
  `https://KEY@host/1`) and URI query parameters named like a secret (`?password=`,
  `&token=`, `&sig=`), wherever they appear in a text.

A masked URI keeps its shape (`postgresql://user:***@host/db`), so a reader still sees which
account and host were meant. Broad on purpose: over-redacting costs a value, under-redacting
a leak.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

REDACTED = "***"
#: a name holding one of these (case-insensitive) holds a secret
SECRET_MARKERS = ("TOKEN", "KEY", "SECRET", "PASS", "PWD", "CREDENTIAL", "DSN", "AUTH",
                  "COOKIE", "PRIVATE", "SIG")
#: names that hold a marker and no secret: the shell's working directories
NOT_SECRET = frozenset({"PWD", "OLDPWD"})

# scheme://user:password@ or scheme://user@ ; a password may hold any character but
# whitespace and '@' (a '/' included: users do not percent-encode)
_USER_INFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)"
                        r"(?P<user>[^\s:/?#@'\"]*)(?::(?P<password>[^\s@'\"]*))?@")
_QUERY_ITEM = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&;#\s'\"]+)=(?P<value>[^&;#\s'\"]*)")


def is_secret(name: str) -> bool:
    """Whether a value under this name (an environment variable, a `--flag`, a query
    parameter) must not be recorded."""
    upper = name.upper().strip("-")
    if upper in NOT_SECRET:
        return False
    return any(marker in upper for marker in SECRET_MARKERS)


def _mask_user_info(match: re.Match) -> str:
    user, password = match["user"], match["password"]
    if password is not None:
        return f"{match['scheme']}{user}:{REDACTED}@"
    return f"{match['scheme']}{REDACTED}@" if user else match[0]


def _mask_query(match: re.Match) -> str:
    if not is_secret(match["name"]) or not match["value"]:
        return match[0]
    return f"{match['lead']}{match['name']}={REDACTED}"


def redact(text: str) -> str:
    """`text` with every URI's user info and secret-named query parameters masked: safe to
    print, tag, log or spool."""
    if "@" not in text and "=" not in text:
        return text
    return _QUERY_ITEM.sub(_mask_query, _USER_INFO.sub(_mask_user_info, text))


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """A copy safe to log: secret names get `***`, secrets inside other values are masked."""
    return {name: REDACTED if is_secret(name) else redact(value) for name, value in env.items()}


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line safe to log: the value of a secret-named option (`--api-key=V`,
    `--api-key V`, `HF_TOKEN=V`) is masked, and every argument is `redact`ed."""
    out: list[str] = []
    mask_next = False
    for arg in argv:
        if mask_next and not arg.startswith("--"):
            out.append(REDACTED)
            mask_next = False
            continue
        mask_next = False
        name, eq, _ = arg.partition("=")
        if eq and is_secret(name) and (name.startswith("-") or name.isidentifier()):
            out.append(f"{name}={REDACTED}")
        elif arg.startswith("-") and not eq and is_secret(arg):
            out.append(arg)
            mask_next = True
        else:
            out.append(redact(arg))
    return out
