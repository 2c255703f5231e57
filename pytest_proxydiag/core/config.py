"""Every ``--proxydiag-*`` option, its ``proxydiag_*`` ini key, and one resolver.

Each option is declared once in :data:`OPTIONS` (name, ini key, type, default,
help).  :func:`resolve_settings` turns the command line, the ini file and the
environment into one frozen :class:`Settings`, where every value is a
:class:`Sourced` that knows where it came from (``cli``, ``ini``,
``env:HTTPS_PROXY``, ``default``).  A value that cannot be parsed does not
raise: it is kept in :attr:`Settings.problems` with its source, and the step
that needs it reports it as a finding.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Mapping, TypeVar
from urllib.parse import urlsplit

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - parsed only when the diagnosis runs
    from pytest_proxydiag.core.proxyurl import ProxyURL

T = TypeVar("T")

DEFAULT_TARGET = "https://api.anthropic.com"
#: Environment variables that name a proxy, in the order this tool reads them
#: for an https target: lower case before upper case (curl, requests and
#: urllib prefer lower case), the scheme-specific one before ALL_PROXY, and
#: HTTP_PROXY last (only Claude Code uses it for https traffic).
PROXY_ENV_ORDER = ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "http_proxy", "HTTP_PROXY")
NO_PROXY_ENV_ORDER = ("no_proxy", "NO_PROXY")


class ConfigError(ValueError):
    """A configuration value is unusable; the message names its source."""


@dataclass(frozen=True)
class Sourced(Generic[T]):
    """A configuration value and where it came from."""

    value: T
    source: str

    def __bool__(self) -> bool:  # pragma: no cover - convenience
        return bool(self.value)


def _parse_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be a positive number of seconds")
    return value


def _parse_bool(text: Any) -> bool:
    if isinstance(text, bool):
        return text
    t = str(text).strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _parse_int_list(text: Any) -> list[int]:
    items = text if isinstance(text, list) else str(text).replace(",", " ").split()
    out = []
    for item in items:
        n = _parse_size(str(item))
        out.append(n)
    return out


def _parse_size(text: str) -> int:
    t = text.strip().upper().removesuffix("B")
    mult = 1
    for suffix, m in (("KI", 1024), ("MI", 1024 ** 2), ("K", 1024), ("M", 1024 ** 2)):
        if t.endswith(suffix):
            t, mult = t[: -len(suffix)], m
            break
    value = int(float(t) * mult)
    if value <= 0:
        raise ValueError("sizes must be positive")
    return value


def _port(text: str) -> int:
    value = int(str(text).strip())
    if not 1 <= value <= 65535:
        raise ValueError("a port is a number from 1 to 65535")
    return value


def _parse_resolve(text: str) -> tuple[str, int, str]:
    host, sep, rest = text.strip().partition(":")
    port, sep2, addr = rest.partition(":")
    if not (sep and sep2 and host and port.isdigit() and addr):
        raise ValueError("must be HOST:PORT:ADDRESS, like curl --resolve")
    addr = addr.strip("[]")
    return host.lower(), int(port), addr


def _parse_url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    try:
        parts.port
    except ValueError:
        raise ValueError("has an invalid port")
    return text.strip()


@dataclass(frozen=True)
class Option:
    """One ``--proxydiag-NAME`` option with its ``proxydiag_NAME`` ini key."""

    name: str
    help: str
    default: Any = None
    parse: Callable[[Any], Any] | None = None
    kind: str = "str"  # str | bool | list
    metavar: str | None = None
    env: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        return "--proxydiag-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "proxydiag_" + self.name


OPTIONS: tuple[Option, ...] = (
    Option("proxy", "proxy URL to diagnose (default: what the clients use, from https_proxy, "
           "HTTPS_PROXY, all_proxy, ALL_PROXY, http_proxy, HTTP_PROXY in that order)", metavar="URL"),
    Option("target", "provider endpoint to check; repeatable (default: https://api.anthropic.com)",
           kind="list", parse=_parse_url, metavar="URL"),
    Option("gateway", "LiteLLM or other gateway to check (default: ANTHROPIC_BASE_URL when it is not a "
           "provider)", parse=_parse_url, metavar="URL"),
    Option("gateway_key_env", "name of the variable that holds your gateway key: it is sent to the gateway "
           "only, never printed (default: no key, the gateway steps check what needs none)", metavar="NAME"),
    Option("resolve", "pin the address of a host the tool connects to directly, like curl --resolve; "
           "repeatable", kind="list", parse=_parse_resolve, metavar="HOST:PORT:ADDR"),
    Option("no_direct", "never connect to a target except through the proxy", default=False, kind="bool"),
    Option("no_claude_hosts", "skip policy.claude_hosts (the hosts Claude Code needs besides the API: WebFetch's "
           "check, updates, telemetry, MCP servers)", default=False, kind="bool"),
    Option("timeout", "bound in seconds of every single network operation (default 5)", default=5.0,
           parse=_parse_float, metavar="SECONDS"),
    Option("deadline", "hard bound in seconds of the whole diagnosis; later steps are skipped "
           "(default 120)", default=120.0, parse=_parse_float, metavar="SECONDS"),
    Option("json", "write the machine-readable result to PATH", metavar="PATH"),
    Option("public_roots", "PEM bundle of the roots a non-intercepted provider chains to "
           "(default: certifi)", metavar="PATH"),
    Option("ca_out", "where to save an interception CA that was found (default: "
           "./proxydiag-ca/proxy-ca.pem)", metavar="PATH"),
    Option("clients", "real clients that prove a fix: auto, none, or a comma list of "
           "curl,requests,httpx,node,claude (default auto)", default="auto", metavar="LIST"),
    Option("fix_script", "write the verified fixes as a script to source (.sh, .fish, .ps1)", metavar="PATH"),
    Option("symptom", "the error text you see; selects the flowchart branches to run", metavar="TEXT"),
    Option("symptom_file", "file (or - for stdin) holding the error text or log you see", metavar="PATH"),
    Option("compare", "an earlier run's JSON to compare this run with", metavar="PATH"),
    Option("bundle", "write HTML, JSON, JUnit, CA and a summary into one zip", metavar="PATH"),
    Option("aws_region", "AWS region(s) for Bedrock domains (default: AWS_REGION, AWS_DEFAULT_REGION)",
           kind="list", metavar="REGION", env=("AWS_REGION", "AWS_DEFAULT_REGION")),
    Option("vertex_region", "Vertex AI region(s) (default: CLOUD_ML_REGION)", kind="list",
           metavar="REGION", env=("CLOUD_ML_REGION",)),
    Option("litellm_config", "LiteLLM config file (default: LITELLM_CONFIG, ./config.yaml)",
           metavar="PATH", env=("LITELLM_CONFIG",)),
    Option("pac_url", "proxy auto-config (PAC) URL or file to evaluate", metavar="URL"),
    Option("port_candidates", "extra proxy ports the port step tries besides 8080, 3128, 8888, 8443",
           kind="list", parse=lambda t: _port(t), metavar="PORT"),
    Option("latency_threshold", "seconds the proxy may add before it is a finding (default 2)",
           default=2.0, parse=_parse_float, metavar="SECONDS"),
    Option("health_samples", "number of probes of the proxy-health step (default 10)", default=10,
           parse=lambda t: max(1, min(50, int(t))), metavar="N"),
    Option("health_threshold", "mean latency in seconds above which the proxy is slow (default 0.5)",
           default=0.5, parse=_parse_float, metavar="SECONDS"),
    Option("payload_sizes", "body sizes tried by the payload-size step (default 16K,256K,1M,4M,16M)",
           default=[16 * 1024, 256 * 1024, 1024 ** 2, 4 * 1024 ** 2, 16 * 1024 ** 2],
           parse=_parse_int_list, metavar="SIZES"),
)
OPTIONS_BY_NAME = {o.name: o for o in OPTIONS}


def addoptions(parser) -> None:
    """Declare every option and its ini key (called from ``pytest_addoption``)."""
    group = parser.getgroup("proxydiag", "corporate proxy diagnosis (pytest-proxydiag)")
    group.addoption("--proxydiag", action="store_true", default=False,
                    help="run the proxy diagnosis (the plugin is dormant without it)")
    for opt in OPTIONS:
        if opt.kind == "bool":
            group.addoption(opt.flag, action="store_true", default=None, dest=opt.ini, help=opt.help)
            parser.addini(opt.ini, opt.help, type="bool", default=opt.default)
        elif opt.kind == "list":
            group.addoption(opt.flag, action="append", default=None, dest=opt.ini, metavar=opt.metavar,
                            help=opt.help)
            parser.addini(opt.ini, opt.help, type="linelist", default=[])
        else:
            group.addoption(opt.flag, action="store", default=None, dest=opt.ini, metavar=opt.metavar,
                            help=opt.help)
            parser.addini(opt.ini, opt.help, default=None)


@dataclass(frozen=True)
class ProxySetting:
    """The proxy under diagnosis: the parsed URL, or why it could not be parsed."""

    raw: str | None
    source: str
    url: ProxyURL | None = None
    error: str | None = None

    @property
    def configured(self) -> bool:
        return self.raw is not None

    def display(self) -> str:
        if self.url is not None:
            return self.url.redacted()
        return "(unparseable)" if self.raw else "(none)"


@dataclass(frozen=True)
class Target:
    """A provider endpoint the diagnosis checks."""

    url: str
    source: str

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        p = urlsplit(self.url)
        return p.port or (443 if p.scheme == "https" else 80)

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def origin(self) -> str:
        p = urlsplit(self.url)
        return f"{p.scheme}://{p.netloc.rpartition('@')[2]}"

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def id(self) -> str:
        return self.hostport if self.port not in (80, 443) else self.host


@dataclass(frozen=True)
class Settings:
    """The resolved configuration: every value with its source."""

    proxy: ProxySetting
    targets: tuple[Target, ...]
    gateway: Sourced[str | None]
    resolve: Mapping[tuple[str, int], str]
    values: Mapping[str, Sourced[Any]]
    env: Mapping[str, str]
    problems: tuple[str, ...] = ()
    proxy_env: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name].value

    def source(self, name: str) -> str:
        return self.values[name].source

    @property
    def timeout(self) -> float:
        return self["timeout"]

    @property
    def no_proxy(self) -> Sourced[str | None]:
        for name in NO_PROXY_ENV_ORDER:
            if name in self.env:
                return Sourced(self.env[name], f"env:{name}")
        return Sourced(None, "unset")

    def as_report(self, redact: Callable[[str], str]) -> dict[str, Any]:
        """The configuration as shown in reports: value and source, secrets redacted."""
        out: dict[str, Any] = {
            "proxy": {"value": self.proxy.display() if self.proxy.url else
                      (redact(self.proxy.raw) if self.proxy.raw else None),
                      "source": self.proxy.source, **({"error": redact(self.proxy.error)} if self.proxy.error else {})},
            "targets": [{"value": t.url, "source": t.source} for t in self.targets],
            "gateway": {"value": self.gateway.value, "source": self.gateway.source},
            "no_proxy": {"value": self.no_proxy.value, "source": self.no_proxy.source},
            "proxy_env": {k: redact(v) for k, v in self.proxy_env.items()},
        }
        for name, sv in self.values.items():
            if name in ("proxy", "target", "gateway"):
                continue
            v = sv.value
            if isinstance(v, str):
                v = redact(v)
            elif isinstance(v, (list, tuple)):
                v = [redact(x) if isinstance(x, str) else (list(x) if isinstance(x, tuple) else x) for x in v]
            out[name] = {"value": v, "source": sv.source}
        if self.problems:
            out["problems"] = [redact(p) for p in self.problems]
        return out


def proxy_from_env(env: Mapping[str, str]) -> tuple[str | None, str]:
    """The proxy an https client would use, and the variable it came from."""
    for name in PROXY_ENV_ORDER:
        value = env.get(name)
        if value is not None and value.strip() != "":
            return value, f"env:{name}"
    return None, "unset"


def _raw_value(config, opt: Option, env: Mapping[str, str]) -> tuple[Any, str]:
    cli = config.getoption(opt.ini, default=None)
    if opt.kind == "list":
        if cli:
            return list(cli), "cli"
        ini = config.getini(opt.ini)
        if ini:
            return list(ini), "ini"
    elif opt.kind == "bool":
        if cli:
            return True, "cli"
        ini_raw = config.inicfg.get(opt.ini) if hasattr(config, "inicfg") else None
        if ini_raw is not None:
            return config.getini(opt.ini), "ini"
    else:
        if cli is not None:
            return cli, "cli"
        ini = config.getini(opt.ini)
        if ini not in (None, ""):
            return ini, "ini"
    for name in opt.env:
        if env.get(name):
            value = env[name]
            return ([value] if opt.kind == "list" else value), f"env:{name}"
    return opt.default, "default"


def resolve_settings(config, env: Mapping[str, str] | None = None) -> Settings:
    """Resolve every option: CLI, then ini, then environment, then default."""
    env = dict(os.environ if env is None else env)
    problems: list[str] = []
    values: dict[str, Sourced[Any]] = {}
    for opt in OPTIONS:
        raw, source = _raw_value(config, opt, env)
        value = raw
        if opt.parse is not None and raw is not None and source != "default":
            try:
                if opt.kind == "list":
                    value = [opt.parse(item) for item in raw]
                else:
                    value = opt.parse(raw)
            except (ValueError, TypeError) as exc:
                problems.append(f"invalid {opt.flag} value {raw!r} from {source}: {exc}")
                value = opt.default
                source = "default"
        elif opt.kind == "bool" and source != "default":
            try:
                value = _parse_bool(raw)
            except ValueError as exc:
                problems.append(f"invalid {opt.ini} value {raw!r} from {source}: {exc}")
                value, source = opt.default, "default"
        values[opt.name] = Sourced(value, source)

    raw_proxy, proxy_source = values["proxy"].value, values["proxy"].source
    if raw_proxy is None:
        raw_proxy, proxy_source = proxy_from_env(env)
    from pytest_proxydiag.core.proxyurl import ProxyURLError, parse_proxy_url

    proxy = ProxySetting(raw=raw_proxy, source=proxy_source)
    if raw_proxy is not None:
        try:
            proxy = ProxySetting(raw=raw_proxy, source=proxy_source,
                                 url=parse_proxy_url(raw_proxy, source=proxy_source))
        except ProxyURLError as exc:
            proxy = ProxySetting(raw=raw_proxy, source=proxy_source, error=str(exc))

    target_values = values["target"]
    if target_values.source == "default" or not target_values.value:
        targets = (Target(DEFAULT_TARGET, "default"),)
    else:
        targets = tuple(Target(u, target_values.source) for u in target_values.value)
    # Keep the order, drop duplicates: a target given twice is probed once.
    seen: dict[str, Target] = {}
    for t in targets:
        seen.setdefault(t.url.rstrip("/"), t)
    targets = tuple(seen.values())

    gateway = values["gateway"]
    if gateway.value is None:
        base = env.get("ANTHROPIC_BASE_URL")
        if base:
            try:
                base = _parse_url(base)
                host = urlsplit(base).hostname or ""
                if not host.endswith("anthropic.com"):
                    gateway = Sourced(base, "env:ANTHROPIC_BASE_URL")
            except ValueError as exc:
                problems.append(f"invalid ANTHROPIC_BASE_URL {base!r} from env:ANTHROPIC_BASE_URL: {exc}")

    resolve = {(h, p): a for (h, p, a) in (values["resolve"].value or [])}
    proxy_env = {k: v for k, v in env.items()
                 if k.lower() in ("https_proxy", "http_proxy", "all_proxy", "no_proxy")}
    return Settings(proxy=proxy, targets=targets, gateway=gateway, resolve=resolve, values=values,
                    env=env, problems=tuple(problems), proxy_env=proxy_env)
