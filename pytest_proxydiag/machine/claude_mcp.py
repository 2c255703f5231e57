"""MCP servers Claude Code connects to over HTTP, from the files it reads them from.

Claude Code keeps MCP servers in the project's ``.mcp.json``, in ``~/.claude.json``
(top-level ``mcpServers`` for the user scope, ``projects[<dir>].mcpServers`` for the
local scope) and, in managed set-ups, ``managed-mcp.json`` next to the managed
settings.  Only servers with a URL (``type`` ``http`` or ``sse``) use the network;
``stdio`` servers are local processes.  Files are read bounded; a broken file is
reported, never raised.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

__all__ = ["McpServer", "http_mcp_servers", "managed_mcp_path"]

_MAX_FILE = 4 * 1024 * 1024


@dataclass(frozen=True)
class McpServer:
    name: str
    url: str
    source: str      #: the file (and scope) it was read from


def managed_mcp_path(platform: str | None = None) -> Path:
    platform = platform or sys.platform
    if platform == "darwin":
        return Path("/Library/Application Support/ClaudeCode/managed-mcp.json")
    if platform.startswith("win"):
        return Path(r"C:\Program Files\ClaudeCode\managed-mcp.json")
    return Path("/etc/claude-code/managed-mcp.json")


def _load(path: Path) -> tuple[Any, str | None]:
    try:
        if not path.is_file():
            return None, None
        if path.stat().st_size > _MAX_FILE:
            return None, f"{path} is larger than {_MAX_FILE // 1024 // 1024} MiB, not read"
        return json.loads(path.read_text(encoding="utf-8", errors="replace")), None
    except (OSError, ValueError) as exc:
        return None, f"{path} cannot be read as JSON: {exc}"


def _servers(block: Any, source: str) -> Iterator[McpServer]:
    if not isinstance(block, Mapping):
        return
    for name, spec in block.items():
        if not isinstance(spec, Mapping):
            continue
        url = spec.get("url")
        kind = str(spec.get("type") or spec.get("transport") or ("http" if url else "stdio")).lower()
        if isinstance(url, str) and url.strip() and kind in ("http", "sse", "streamable-http", "streamable_http"):
            yield McpServer(str(name), url.strip(), source)


def http_mcp_servers(home: str | os.PathLike, cwd: str | os.PathLike,
                     platform: str | None = None) -> tuple[list[McpServer], list[str]]:
    """(HTTP MCP servers Claude Code would connect to from *cwd*, problems reading their files)."""
    home, cwd = Path(home), Path(cwd)
    found: list[McpServer] = []
    problems: list[str] = []
    user_file = home / ".claude.json"
    doc, err = _load(user_file)
    if err:
        problems.append(err)
    if isinstance(doc, Mapping):
        found += _servers(doc.get("mcpServers"), f"{user_file} (user)")
        projects = doc.get("projects")
        if isinstance(projects, Mapping):
            local = projects.get(str(cwd)) or projects.get(str(cwd.resolve()))
            if isinstance(local, Mapping):
                found += _servers(local.get("mcpServers"), f"{user_file} (local, {cwd})")
    for path, scope in ((cwd / ".mcp.json", "project"), (managed_mcp_path(platform), "managed")):
        doc, err = _load(path)
        if err:
            problems.append(err)
        if isinstance(doc, Mapping):
            found += _servers(doc.get("mcpServers"), f"{path} ({scope})")
    unique: dict[tuple[str, str], McpServer] = {}
    for server in found:
        unique.setdefault((server.name, server.url), server)
    return list(unique.values()), problems
