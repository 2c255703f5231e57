"""The LiteLLM proxy's config file: which one counts, and reading it safely.

One rule decides which file is the user's LiteLLM config, everywhere in the diagnosis:

1. ``--proxydiag-litellm-config PATH`` (or the ini key ``proxydiag_litellm_config``,
   or the ``LITELLM_CONFIG`` environment variable, resolved in that order by the
   options layer) names it; it counts even when it is missing or broken, because
   the user pointed at it (a missing file is then a finding, not silence).
2. Otherwise ``./config.yaml`` in the directory the diagnosis runs in counts
   only when it *looks like* a LiteLLM config: a top-level ``model_list``,
   ``litellm_settings``, ``router_settings`` or ``general_settings`` key.  Many
   projects have an unrelated ``config.yaml``; it is never read as LiteLLM's.
3. Otherwise there is no LiteLLM config.

:func:`load` parses with ``yaml.safe_load``, bounded in size and depth; every
problem (missing, too large, not YAML, tabs for indentation, not a mapping) is a
sentence naming the file, never an exception.

Example::

    from pytest_proxydiag.machine import litellm_config
    found = litellm_config.locate(settings["litellm_config"], settings.source("litellm_config"), os.getcwd())
    if found:
        doc, problem = litellm_config.load(found.path)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MAX_LITELLM", "Located", "locate", "load", "looks_like_litellm"]

MAX_LITELLM = 2 * 1024 * 1024
DEFAULT_NAME = "config.yaml"
_TOP_LEVEL = re.compile(r"^(model_list|litellm_settings|router_settings|general_settings)\s*:", re.M)


@dataclass(frozen=True)
class Located:
    """The config that counts: its path and why (``cli``, ``ini``, ``env:LITELLM_CONFIG``, ``./config.yaml``)."""

    path: str
    source: str


def looks_like_litellm(path: str | os.PathLike) -> bool:
    """True when *path* is a readable file with one of LiteLLM's top-level sections."""
    p = Path(path)
    try:
        if not p.is_file() or p.stat().st_size > MAX_LITELLM:
            return False
        with p.open(encoding="utf-8", errors="replace") as f:
            head = f.read(65536)
    except OSError:
        return False
    return bool(_TOP_LEVEL.search(head))


def locate(option: str | None, option_source: str = "cli", cwd: str | os.PathLike | None = None) -> Located | None:
    """The LiteLLM config that counts (see the module's rule), or None."""
    if option:
        return Located(os.path.expanduser(str(option)), option_source)
    candidate = Path(cwd if cwd is not None else os.getcwd()) / DEFAULT_NAME
    if looks_like_litellm(candidate):
        return Located(str(candidate), "./" + DEFAULT_NAME)
    return None


def load(path: str) -> tuple[Any, str | None]:
    """``(document, None)`` or ``(None, problem)``; an empty file is ``({}, None)``. Never raises."""
    import yaml

    try:
        p = Path(path)
        if not p.is_file():
            return None, f"{path} does not exist or is not a file"
        size = p.stat().st_size
        if size > MAX_LITELLM:
            return None, f"{path} is {size} bytes; larger than {MAX_LITELLM // 1024} KiB, not read"
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return None, f"{path} cannot be read: {exc}"
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return None, _yaml_problem(path, text, exc)
    except RecursionError:
        return None, f"{path} nests too deeply to be a LiteLLM config"
    if doc is None:
        return {}, None
    if not isinstance(doc, dict):
        return None, f"{path} is YAML but not a mapping (top level is {type(doc).__name__})"
    return doc, None


def _yaml_problem(path: str, text: str, exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    hint = ""
    tab_lines = [str(i) for i, line in enumerate(text.splitlines(), 1)
                 if "\t" in line[:len(line) - len(line.lstrip())]][:5]
    if tab_lines:
        # The most common reason a hand-edited config stops loading.
        hint = f"; YAML does not allow tabs for indentation (tabs on line {', '.join(tab_lines)})"
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{path} is not valid YAML{where}: {problem}{hint}"
