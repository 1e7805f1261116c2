"""What a campaign records as `environment.json`, so "what exactly ran on that pod" has an
answer after the pod is gone, and no credential travels with it."""
from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata
from typing import Any

from ..redaction import redact_argv, redact_env


def argument_parsers() -> list[argparse.ArgumentParser]:
    """The script's own parsers where they can still be seen (a local of a calling frame, a
    global of `__main__`), so that `redact_argv` knows `-p` is `--password` and what `--pa`
    abbreviates; none found, it goes by the options' names alone."""
    places: list[dict] = []
    frame = sys._getframe(1)
    while frame is not None:
        places.append(frame.f_locals)
        frame = frame.f_back
    main = sys.modules.get("__main__")
    if main is not None:
        places.append(vars(main))
    found: dict[int, argparse.ArgumentParser] = {}
    for place in places:
        for value in list(place.values()):
            if isinstance(value, argparse.ArgumentParser):
                found[id(value)] = value
    return list(found.values())


def environment() -> dict[str, Any]:
    """Command line, redacted environment variables and installed package versions."""
    packages = {d.metadata["Name"]: d.version for d in metadata.distributions()
                if d.metadata["Name"]}
    return {
        "argv": redact_argv(sys.argv, argument_parsers()),
        "cwd": os.getcwd(),
        "env": dict(sorted(redact_env(os.environ).items())),
        "packages": dict(sorted(packages.items(), key=lambda kv: kv[0].lower())),
    }
