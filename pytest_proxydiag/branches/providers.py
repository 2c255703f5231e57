"""The provider host names a diagnosis checks, and how an IT ticket lists them.

The targets, plus the Bedrock and Vertex AI hosts of the configured regions
(option, ``AWS_REGION``/``CLOUD_ML_REGION``, or Claude Code's
``CLAUDE_CODE_USE_BEDROCK``/``CLAUDE_CODE_USE_VERTEX``).  Pure data: no I/O.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

__all__ = ["ProviderDomain", "FAMILY_WILDCARDS", "provider_of", "provider_domains", "allowlist_lines",
           "wildcard_lines", "claude_mode", "uses_bedrock", "uses_vertex", "bedrock_region", "vertex_region"]


# -- provider domains --------------------------------------------------------------------------
@dataclass(frozen=True)
class ProviderDomain:
    host: str
    port: int
    scheme: str
    provider: str
    why: str

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"


#: Wildcard forms from the flowchart, per provider family, for IT teams that allow by pattern.
FAMILY_WILDCARDS: Mapping[str, tuple[str, ...]] = {
    "Anthropic": ("api.anthropic.com",),
    "AWS Bedrock": ("bedrock-runtime.*.amazonaws.com", "*.bedrock-runtime.amazonaws.com"),
    "Vertex AI": ("*.aiplatform.googleapis.com", "aiplatform.googleapis.com"),
}


def provider_of(host: str) -> str:
    h = host.lower()
    if h == "anthropic.com" or h.endswith(".anthropic.com"):
        return "Anthropic"
    if "bedrock" in h and h.endswith(".amazonaws.com"):
        return "AWS Bedrock"
    if h.endswith("aiplatform.googleapis.com"):
        return "Vertex AI"
    return "other"


def _regions(values: Iterable[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or ():
        for part in re.split(r"[,;\s]+", str(v)):
            part = part.strip().lower()
            # us-east-1, eu-central-2, us-gov-west-1, us-central1, europe-west4, global
            if re.fullmatch(r"global|[a-z]{2,12}(?:-[a-z0-9]{1,12}){1,3}", part) and part not in out:
                out.append(part)
    return out


def provider_domains(targets: Sequence, aws_regions: Iterable[str] | None = None,
                     vertex_regions: Iterable[str] | None = None,
                     env: Mapping[str, str] | None = None) -> list[ProviderDomain]:
    """Provider host names in use: the targets, plus Bedrock/Vertex hosts for the configured regions.

    Bedrock and Vertex join only when a region is configured (option or
    ``AWS_REGION``/``AWS_DEFAULT_REGION``/``CLOUD_ML_REGION``) or Claude Code is
    told to use them (``CLAUDE_CODE_USE_BEDROCK``/``CLAUDE_CODE_USE_VERTEX``).
    """
    env = env or {}
    out: dict[str, ProviderDomain] = {}
    for t in targets:
        out.setdefault(t.host.lower(), ProviderDomain(t.host.lower(), t.port, t.scheme, provider_of(t.host),
                                                      f"target ({t.source})"))
    aws = _regions(aws_regions)
    if not aws and env.get("CLAUDE_CODE_USE_BEDROCK", "").strip() not in ("", "0", "false"):
        aws = ["us-east-1"]
    for region in aws:
        host = f"bedrock-runtime.{region}.amazonaws.com"
        out.setdefault(host, ProviderDomain(host, 443, "https", "AWS Bedrock", f"AWS region {region}"))
    vertex = _regions(vertex_regions)
    if not vertex and env.get("CLAUDE_CODE_USE_VERTEX", "").strip() not in ("", "0", "false"):
        vertex = ["global"]
    for region in vertex:
        host = "aiplatform.googleapis.com" if region == "global" else f"{region}-aiplatform.googleapis.com"
        out.setdefault(host, ProviderDomain(host, 443, "https", "Vertex AI", f"Vertex region {region}"))
    return list(out.values())


def allowlist_lines(domains: Sequence[ProviderDomain]) -> str:
    """One host:port per line, for a ticket."""
    return "\n".join(f"  {d.host}  (HTTPS, port {d.port}; {d.provider})" if d.scheme == "https"
                     else f"  {d.host}  (HTTP, port {d.port}; {d.provider})" for d in domains)


def wildcard_lines(domains: Sequence[ProviderDomain]) -> str:
    families = list(dict.fromkeys(d.provider for d in domains if d.provider in FAMILY_WILDCARDS))
    return "\n".join(f"  {fam}: " + ", ".join(FAMILY_WILDCARDS[fam]) for fam in families) or "  (none)"


# -- which API a client speaks to a host ---------------------------------------------------------
_OFF = ("", "0", "false", "no", "off")
_BEDROCK_REGION = re.compile(r"bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com$")
_VERTEX_REGION = re.compile(r"^([a-z0-9-]+)-aiplatform\.googleapis\.com$")


def uses_bedrock(env: Mapping[str, str]) -> bool:
    """Claude Code is told to use Bedrock (``CLAUDE_CODE_USE_BEDROCK``)."""
    return str(env.get("CLAUDE_CODE_USE_BEDROCK", "")).strip().lower() not in _OFF


def uses_vertex(env: Mapping[str, str]) -> bool:
    """Claude Code is told to use Vertex AI (``CLAUDE_CODE_USE_VERTEX``)."""
    return str(env.get("CLAUDE_CODE_USE_VERTEX", "")).strip().lower() not in _OFF


def claude_mode(host: str, env: Mapping[str, str]) -> str:
    """The API Claude Code speaks to *host*: ``"bedrock"``, ``"vertex"`` or ``"anthropic"``.

    A Bedrock or Vertex AI endpoint by its name; a gateway when Claude Code is
    in that mode and its ``ANTHROPIC_BEDROCK_BASE_URL``/``ANTHROPIC_VERTEX_BASE_URL``
    names *host*.
    """
    h = host.lower()
    family = provider_of(h)
    if family == "AWS Bedrock":
        return "bedrock"
    if family == "Vertex AI":
        return "vertex"
    for mode, on, base in (("bedrock", uses_bedrock, "ANTHROPIC_BEDROCK_BASE_URL"),
                           ("vertex", uses_vertex, "ANTHROPIC_VERTEX_BASE_URL")):
        try:
            named = (urlsplit(str(env.get(base) or "")).hostname or "").lower()
        except ValueError:
            named = ""
        if on(env) and named == h:
            return mode
    return "anthropic"


def bedrock_region(host: str, env: Mapping[str, str]) -> str:
    """The region of a Bedrock endpoint: its name's, else ``AWS_REGION``/``AWS_DEFAULT_REGION``, else us-east-1."""
    m = _BEDROCK_REGION.search(host.lower())
    if m:
        return m.group(1)
    return (str(env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "")).strip() or "us-east-1"


def vertex_region(host: str, env: Mapping[str, str]) -> str:
    """The region of a Vertex AI endpoint: its name's, else ``CLOUD_ML_REGION``, else global."""
    m = _VERTEX_REGION.match(host.lower())
    if m:
        return m.group(1)
    return str(env.get("CLOUD_ML_REGION") or "").strip() or "global"
