"""Import a Captain's Log file into the store, and export the store back to markdown.

Import is idempotent: a record whose number (or, if it has none, whose title) is already in the
store with the same title is skipped, so importing the same log twice adds nothing. Everything
is checked before the first write, so a bad file adds no decision at all.
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BadInput
from .markdown import parse_file, render, render_log
from .model import Decision
from .numbers import Taken
from .store import DecisionLog


@dataclass
class ImportReport:
    added: list[Decision] = field(default_factory=list)
    skipped: list[Decision] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False


def import_log(log: DecisionLog, path: str | Path, dry_run: bool = False,
               renumber: bool = False) -> ImportReport:
    """Add the file's decisions that the store lacks.

    With `renumber`, a record whose number belongs to another title gets the next free number
    instead of being refused; it is then recognised by its title, so a second import still
    adds nothing.
    """
    parsed = parse_file(path)
    report = ImportReport(warnings=parsed.warnings, dry_run=dry_run)
    if not parsed.decisions:
        raise BadInput(f"{path}:1: no '## Decision #NNN: Title' heading found")
    seen: dict[int, int] = {}
    for d, line in zip(parsed.decisions, parsed.lines):
        if d.number is not None:
            if d.number in seen:
                raise BadInput(f"{path}:{line}: Decision #{d.number:03d} appears twice "
                               f"(first at line {seen[d.number]}); numbers must be unique")
            seen[d.number] = line
    by_number = {e.number: e for e in log.entries()}
    by_title = {e.title: e for e in by_number.values()}
    todo = []
    for d, line in zip(parsed.decisions, parsed.lines):
        have = by_number.get(d.number) if d.number is not None else by_title.get(d.title)
        if renumber and d.title in by_title:
            report.skipped.append(d)
        elif have is not None and have.title == d.title:
            report.skipped.append(d)
        elif have is not None and not renumber:
            raise BadInput(_clash(path, line, d, have.title))
        else:
            todo.append((d, line, None if have is not None else d.number))
    for d, line, number in todo:
        if not dry_run:
            try:
                log.create(d, number=number)
            except Taken:               # taken a moment ago: by this import or another one
                have = log.load(number)
                if have.title == d.title:
                    report.skipped.append(d)
                    continue
                if not renumber:
                    raise BadInput(_clash(path, line, d, have.title)) from None
                log.create(d)
        report.added.append(d)
    return report


def _clash(path, line: int, d: Decision, other: str) -> str:
    return (f"{path}:{line}: Decision #{d.number:03d} {d.title!r} clashes with "
            f"#{d.number:03d} {other!r} already in the log")


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "decision"


def export(log: DecisionLog, directory: str | Path | None = None,
           single: str | Path | None = None) -> tuple[list[Path], list[str]]:
    """One `NNNN-slug.md` per decision in `directory`, or the whole log in `single`; and a
    line for each decision whose record is corrupt, skipped so the others are exported."""
    decisions, problems = log.all()
    if single is not None:
        return [_write(Path(single), render_log(decisions))], problems
    folder = Path(directory or "decisions")
    if folder.exists() and not folder.is_dir():
        raise BadInput(f"--dir {str(folder)!r}: exists and is not a folder")
    if not folder.parent.is_dir():
        raise BadInput(f"--dir {str(folder)!r}: folder {str(folder.parent)!r} does not exist; "
                       "accepted: a folder in an existing one")
    folder.mkdir(exist_ok=True)
    return [_write(folder / f"{d.number:04d}-{slug(d.title)}.md", render(d))
            for d in decisions], problems


def _write(path: Path, text: str) -> Path:
    """Whole file or nothing: written beside the target, then renamed over it."""
    if not path.parent.is_dir():
        raise BadInput(f"{path}: folder {str(path.parent)!r} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path
