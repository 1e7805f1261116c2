"""What every page action that changes something checks first (the Stop button's, the advise
page's "Draft the decision"): that the request comes from a page of this server, and that its
fields are the ones accepted.

Cross-site requests are refused by their `Origin` (else `Referer`) header, which must be this
server's own scheme, host and port; a request with neither is refused too. Why that rather
than a token the page embeds: basic-auth credentials are sent by the browser with any request
to the server, whichever site makes it, so a form on another site could stop a run; a browser
always sends `Origin` with a cross-origin POST and a page cannot forge it, so checking it
stops such a form with no state to keep (no session, no secret to rotate, nothing the live
page must thread through its polling), on every worker of the server alike. MLflow's own
middleware lets any localhost origin through, which would admit another local app's page;
this check admits only the server itself. Scripts and terminals use the command line.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import request

from ..errors import BadInput, Denied

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, or None if it names none (`null`, garbage)."""
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname or port is None:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


def same_origin() -> bool:
    """Whether the request comes from a page of this server (see the module doc)."""
    claimed = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return claimed != "" and _origin(claimed) == _origin(request.host_url)


def check_origin() -> None:
    """`Denied` (403) for a request from another site."""
    if not same_origin():
        raise Denied("cross-site request refused: the Origin (or Referer) header must be this "
                     f"server's own ({request.host_url.rstrip('/')})")


def form_fields(accepted: tuple[str, ...], required: str) -> dict[str, str]:
    """The request's fields, from a JSON object or a form; BadInput naming what is wrong."""
    body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(body, dict):
        raise BadInput("the request body is not a JSON object or a form; accepted: "
                       f"{'&'.join(f'{k}=...' for k in accepted)}")
    unknown = [k for k in body if k not in accepted]
    if unknown:
        raise BadInput(f"unknown field {unknown[0]!r}; accepted: {', '.join(accepted)}")
    for name, value in body.items():
        if not isinstance(value, str):
            raise BadInput(f"field {name!r} is {value!r}; accepted: text")
    if not body.get(required, "").strip():
        raise BadInput(f"missing field {required!r}")
    return body
