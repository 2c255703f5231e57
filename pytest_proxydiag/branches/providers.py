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
           "wildcard_lines", "claude_mode", "uses_bedrock", "uses_vertex", "bedrock_region", "vertex_region",
           "bedrock_host", "vertex_host", "is_on"]


# -- provider domains --------------------------------------------------------------------------
GOOGLE_AUTH = "Google auth (Vertex AI)"


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
    "Vertex AI": ("*.aiplatform.googleapis.com", "aiplatform.googleapis.com", "aiplatform.*.rep.googleapis.com"),
    GOOGLE_AUTH: ("oauth2.googleapis.com",),
}
#: Google's token endpoint: google-auth (Claude Code's Vertex login, the Python SDKs') refreshes access tokens
#: there (``oauth2.googleapis.com/token`` in Claude Code 2.1.332's google-auth-library).
GOOGLE_TOKEN_HOST = "oauth2.googleapis.com"
#: The regions Claude Code 2.1.332 uses when none is set (measured in its binary: ``AWS_REGION`` else
#: ``AWS_DEFAULT_REGION`` else us-east-1; ``CLOUD_ML_REGION`` else us-east5).
BEDROCK_DEFAULT_REGION, VERTEX_DEFAULT_REGION = "us-east-1", "us-east5"


def provider_of(host: str) -> str:
    h = host.lower()
    if h == "anthropic.com" or h.endswith(".anthropic.com"):
        return "Anthropic"
    if "bedrock" in h and h.endswith(".amazonaws.com"):
        return "AWS Bedrock"
    if h.endswith("aiplatform.googleapis.com") or re.fullmatch(r"aiplatform\.[a-z]{2}\.rep\.googleapis\.com", h):
        return "Vertex AI"
    return "other"


def _regions(values: Iterable[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or ():
        for part in re.split(r"[,;\s]+", str(v)):
            part = part.strip().lower()
            # us-east-1, eu-central-2, us-gov-west-1, us-central1, europe-west4, global, us, eu (Vertex multi-region)
            if re.fullmatch(r"global|us|eu|[a-z]{2,12}(?:-[a-z0-9]{1,12}){1,3}", part) and part not in out:
                out.append(part)
    return out


def bedrock_host(region: str) -> str:
    return f"bedrock-runtime.{region}.amazonaws.com"


def vertex_host(region: str) -> str:
    """Vertex AI's endpoint for *region*, as Claude Code 2.1.332 builds it (global, the us/eu multi-regions)."""
    if region == "global":
        return "aiplatform.googleapis.com"
    if region in ("us", "eu"):
        return f"aiplatform.{region}.rep.googleapis.com"
    return f"{region}-aiplatform.googleapis.com"


def _base_host(env: Mapping[str, str], name: str) -> str:
    try:
        return (urlsplit(str(env.get(name) or "").strip()).hostname or "").lower()
    except ValueError:
        return ""


#: The variables naming Bedrock regions: the SDKs', and Claude Code's region of its small fast model.
_AWS_REGION_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION", "ANTHROPIC_SMALL_FAST_MODEL_AWS_REGION")


def _vertex_model_regions(env: Mapping[str, str]) -> list[str]:
    """Claude Code's per-model Vertex regions (``VERTEX_REGION_CLAUDE_4_5_SONNET=europe-west1`` ...)."""
    return [v for k, v in sorted(env.items()) if k.startswith("VERTEX_REGION_CLAUDE") and v]


def provider_domains(targets: Sequence, aws_regions: Iterable[str] | None = None,
                     vertex_regions: Iterable[str] | None = None,
                     env: Mapping[str, str] | None = None) -> list[ProviderDomain]:
    """Provider host names in use: the targets, plus Bedrock/Vertex hosts for the configured regions.

    Bedrock joins for the option's regions, ``AWS_REGION``, ``AWS_DEFAULT_REGION``, Claude Code's
    ``ANTHROPIC_SMALL_FAST_MODEL_AWS_REGION`` and the region named by ``ANTHROPIC_BEDROCK_BASE_URL``; Vertex AI for ``CLOUD_ML_REGION``, Claude Code's ``VERTEX_REGION_CLAUDE_*``
    and the region of ``ANTHROPIC_VERTEX_BASE_URL``.  A Claude Code told to use them
    (``CLAUDE_CODE_USE_BEDROCK``/``CLAUDE_CODE_USE_VERTEX``) with no region adds its default region, and a
    Vertex user who logs in to Google (no ``CLAUDE_CODE_SKIP_VERTEX_AUTH``) needs Google's token endpoint.
    *env* is what the user's Claude Code sees (``Settings.claude_env``: the shell's variables with its settings
    scopes' ``env`` on top), so a region set only in ``~/.claude/settings.json`` counts.
    """
    env = env or {}
    out: dict[str, ProviderDomain] = {}
    for t in targets:
        out.setdefault(t.host.lower(), ProviderDomain(t.host.lower(), t.port, t.scheme, provider_of(t.host),
                                                      f"target ({t.source})"))
    aws = _regions([*(aws_regions or ()), *(env.get(k) or "" for k in _AWS_REGION_VARS)])
    m = _BEDROCK_REGION.search(_base_host(env, "ANTHROPIC_BEDROCK_BASE_URL"))
    aws += [r for r in _regions([m.group(1)] if m else []) if r not in aws]
    bedrock_hosts = [h for h in out if provider_of(h) == "AWS Bedrock"]
    if not aws and uses_bedrock(env) and not bedrock_hosts:
        aws = [BEDROCK_DEFAULT_REGION]
    for region in aws:
        host = bedrock_host(region)
        out.setdefault(host, ProviderDomain(host, 443, "https", "AWS Bedrock", f"AWS region {region}"))
    vertex = _regions([*(vertex_regions or ()), env.get("CLOUD_ML_REGION") or "", *_vertex_model_regions(env)])
    m = _VERTEX_REGION.match(_base_host(env, "ANTHROPIC_VERTEX_BASE_URL"))
    vertex += [r for r in _regions([m.group(1)] if m else []) if r not in vertex]
    vertex_in_use = uses_vertex(env) or any(provider_of(h) == "Vertex AI" for h in out)
    if not vertex and uses_vertex(env) and not any(provider_of(h) == "Vertex AI" for h in out):
        vertex = [VERTEX_DEFAULT_REGION]
    for region in vertex:
        host = vertex_host(region)
        out.setdefault(host, ProviderDomain(host, 443, "https", "Vertex AI", f"Vertex region {region}"))
    if (vertex_in_use or vertex) and not is_on(env.get("CLAUDE_CODE_SKIP_VERTEX_AUTH")):
        out.setdefault(GOOGLE_TOKEN_HOST, ProviderDomain(GOOGLE_TOKEN_HOST, 443, "https", GOOGLE_AUTH,
                                                         "Google token refresh"))
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
#: The only values Claude Code 2.1.332 counts as "on" (any case, blanks trimmed); "y" or "enabled" is off.
_ON = ("1", "true", "yes", "on")


def is_on(value: object) -> bool:
    """A switch variable as Claude Code reads it."""
    return str(value or "").strip().lower() in _ON
_BEDROCK_REGION = re.compile(r"bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com$")
_VERTEX_REGION = re.compile(r"^([a-z0-9-]+)-aiplatform\.googleapis\.com$")


def uses_bedrock(env: Mapping[str, str]) -> bool:
    """Claude Code is told to use Bedrock (``CLAUDE_CODE_USE_BEDROCK``)."""
    return is_on(env.get("CLAUDE_CODE_USE_BEDROCK"))


def uses_vertex(env: Mapping[str, str]) -> bool:
    """Claude Code is told to use Vertex AI (``CLAUDE_CODE_USE_VERTEX``)."""
    return is_on(env.get("CLAUDE_CODE_USE_VERTEX"))


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
    h = host.lower()
    m = _VERTEX_REGION.match(h) or re.fullmatch(r"aiplatform\.([a-z]{2})\.rep\.googleapis\.com", h)
    if m:
        return m.group(1)
    return str(env.get("CLOUD_ML_REGION") or "").strip() or "global"
