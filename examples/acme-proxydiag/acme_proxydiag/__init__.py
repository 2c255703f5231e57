"""ACME's site pack: its tests live next to this file."""

from pathlib import Path


def tests_dir() -> Path:
    return Path(__file__).parent
