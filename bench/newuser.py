"""A new user's environment, made offline: a fresh venv holding ``pytest-proxydiag[html]`` and nothing else.

Issue 15 measures the diagnosis "as a new user would: a fresh venv with ``.[html]``". This development
environment holds much more (the ``[test]`` extra brings the Anthropic SDK, httpx, hypothesis, xdist...),
and a bench must not reach the package index, so the venv is filled from what is installed here:

* every distribution ``pytest-proxydiag[html]`` needs, found by walking the requirements of the installed
  distributions, is copied file by file (its RECORD) into the venv's ``site-packages``;
* the package itself is built into a wheel from this source tree (``pip wheel --no-index --no-deps
  --no-build-isolation``) and unpacked there, as ``pip install .`` would.

    python bench/newuser.py DIR [DIST ...]   # make one (with DIST too, e.g. anthropic) and print its python
"""

from __future__ import annotations

import importlib.metadata as md
import re
import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "pytest-proxydiag"


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(extras: tuple[str, ...] = ("html",), also: tuple[str, ...] = ()) -> list[md.Distribution]:
    """The installed distributions ``pytest-proxydiag[extras]`` and the distributions *also* need, itself
    left out (*also* themselves included)."""
    env = default_environment()
    todo = [(PACKAGE, extras)] + [(name, ()) for name in also]
    seen: dict[str, md.Distribution] = {}
    while todo:
        name, wanted = todo.pop()
        dist = md.distribution(name)
        for line in dist.requires or ():
            req = Requirement(line)
            if req.marker is not None and not any(req.marker.evaluate({**env, "extra": e}) for e in wanted + ("",)):
                continue
            key = _name(req.name)
            if key not in seen:
                seen[key] = md.distribution(req.name)
                todo.append((req.name, tuple(req.extras)))
    for name in also:
        seen.setdefault(_name(name), md.distribution(name))
    return list(seen.values())


def make(directory: Path, also: tuple[str, ...] = ()) -> Path:
    """A venv in *directory* with ``pytest-proxydiag[html]`` from this tree (and the distributions *also*
    names, e.g. ``anthropic``); returns its python."""
    venv.create(directory, with_pip=False, symlinks=True, clear=True)
    python = directory / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    for dist in requirements(also=also):
        base = Path(dist.locate_file(""))
        for f in dist.files or ():
            if f.parts and f.parts[0] == "..":   # console scripts: `python -m pytest` needs none
                continue
            src = base / f
            if src.is_file():
                dst = purelib / src.relative_to(base)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-index", "--no-deps", "--no-build-isolation",
                        "-w", tmp, str(ROOT)], check=True, capture_output=True)
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(purelib)
    return python


if __name__ == "__main__":
    print(make(Path(sys.argv[1]), tuple(sys.argv[2:])))
