"""The one exception type that means "the user gave us a bad value".

Library code raises `BadInput` with a single line naming the bad value and what is accepted;
the CLI turns it into exit code 2 without a traceback. Anything else is a bug or a failure
of the experiment itself and keeps its traceback.
"""
from __future__ import annotations


class BadInput(ValueError):
    """A bad value from the user: one line, naming the value and what is accepted."""
