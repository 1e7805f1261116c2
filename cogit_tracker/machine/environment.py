"""What a campaign records as `environment.json`, so "what exactly ran on that pod" has an
answer after the pod is gone, and no credential travels with it."""
from __future__ import annotations

import os
import sys
from importlib import metadata
from typing import Any

from ..redaction import redact_argv, redact_env


def environment() -> dict[str, Any]:
    """Command line, redacted environment variables and installed package versions."""
    packages = {d.metadata["Name"]: d.version for d in metadata.distributions()
                if d.metadata["Name"]}
    return {
        "argv": redact_argv(sys.argv),
        "cwd": os.getcwd(),
        "env": dict(sorted(redact_env(os.environ).items())),
        "packages": dict(sorted(packages.items(), key=lambda kv: kv[0].lower())),
    }
