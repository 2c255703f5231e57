"""The AWS shared config file as botocore and Claude Code read it: one key of the profile in use.

``AWS_CONFIG_FILE`` else ``~/.aws/config``; the profile is ``AWS_PROFILE`` (else ``AWS_DEFAULT_PROFILE``, else
``default``), its section ``[default]`` or ``[profile NAME]``.  Read bounded (256 KiB); a missing or broken file
is simply no value.

Example::

    aws_profile_value({"AWS_PROFILE": "corp"}, "/home/u", "region")
    # ("eu-west-1", "/home/u/.aws/config [profile corp]")
"""

from __future__ import annotations

import os
from typing import Mapping

__all__ = ["aws_profile_value"]


def aws_profile_value(env: Mapping[str, str], home: str | None, key: str) -> tuple[str, str] | None:
    """``(value, "<config file> [<section>]")`` of *key* in the AWS profile in use (``AWS_PROFILE``), or None."""
    import configparser

    path = env.get("AWS_CONFIG_FILE") or (os.path.join(home, ".aws", "config") if home else "")
    profile = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    if not path or not os.path.isfile(path):
        return None
    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            parser.read_string(f.read(256 * 1024))
    except (OSError, configparser.Error):
        return None
    section = profile if profile == "default" else f"profile {profile}"
    value = parser.get(section, key, fallback="").strip() if parser.has_section(section) else ""
    return (value, f"{path} [{section}]") if value else None
