"""`python -m cogit_tracker.cli ...`, as `make server` runs it."""
from . import main

main()
