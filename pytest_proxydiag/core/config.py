"""Every ``--proxydiag-*`` option, its ``proxydiag_*`` ini key, and one resolver.

Each option is declared once in :data:`OPTIONS` (name, ini key, type, default,
help).  :func:`resolve_settings` turns the command line, the ini file and the
environment into one frozen :class:`Settings`, where every value is a
:class:`Sourced` that knows where it came from (``cli``, ``ini``,
``env:HTTPS_PROXY``, ``default``).

A bad value the user gave *to this tool* (an option or an ini key) raises
:class:`OptionValueError`, one line naming the option, the value and its
source; the plugin turns it into pytest's usage error (exit 4), the way
pytest-timeout does.  A bad value read from the environment is the user's
misconfiguration, the very thing being diagnosed: it is kept in
:attr:`Settings.problems` (or, for the proxy, in :class:`ProxySetting`) and
the step that needs it reports it as a finding.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import os
import re
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


class OptionValueError(ConfigError):
    """An option or ini key holds a value this tool cannot use: a usage error, not a finding."""


@dataclass(frozen=True)
class Sourced(Generic[T]):
    """A configuration value and where it came from."""

    value: T
    source: str

    def __bool__(self) -> bool:  # pragma: no cover - convenience
        return bool(self.value)


@dataclass(frozen=True)
class Option:
    """One ``--proxydiag-NAME`` option with its ``proxydiag_NAME`` ini key."""

    name: str
    help: str
    default: Any = None
    #: name of the function in :mod:`pytest_proxydiag.core.parsers` (loaded only when the diagnosis runs)
    parse: str | None = None
    kind: str = "str"  # str | bool | list
    metavar: str | None = None
    env: tuple[str, ...] = ()
    #: the TOML type a ``str`` option also takes natively (``proxydiag_timeout = 3``): float or int
    number: type | None = None

    @property
    def flag(self) -> str:
        return "--proxydiag-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "proxydiag_" + self.name


OPTIONS: tuple[Option, ...] = (
    Option("proxy", "proxy URL to diagnose (default: what the clients use, from https_proxy, "
           "HTTPS_PROXY, all_proxy, ALL_PROXY, http_proxy, HTTP_PROXY in that order)", parse="parse_proxy",
           metavar="URL"),
    Option("target", "provider endpoint to check; repeatable (default: what your Claude Code calls: its Bedrock "
           "or Vertex AI endpoint in those modes, else https://api.anthropic.com)",
           kind="list", parse="parse_url", metavar="URL"),
    Option("gateway", "LiteLLM or other gateway to check (default: ANTHROPIC_BASE_URL when it is not a "
           "provider)", parse="parse_url", metavar="URL"),
    Option("gateway_key_env", "name of the variable that holds your gateway key: it is sent to the gateway "
           "only, never printed (default: no key, the gateway steps check what needs none)",
           parse="parse_env_name", metavar="NAME"),
    Option("resolve", "pin the address of a host the tool connects to directly, like curl --resolve; "
           "repeatable", kind="list", parse="parse_resolve", metavar="HOST:PORT:ADDR"),
    Option("no_direct", "never connect to a target except through the proxy", default=False, kind="bool"),
    Option("no_claude_hosts", "skip policy.claude_hosts (the hosts Claude Code needs besides the API: WebFetch's "
           "check, updates, telemetry, MCP servers)", default=False, kind="bool"),
    Option("timeout", "bound in seconds of every single network operation (default 5)", default=5.0,
           parse="parse_seconds", metavar="SECONDS", number=float),
    Option("deadline", "hard bound in seconds of the whole diagnosis; later steps are skipped "
           "(default 120)", default=120.0, parse="parse_seconds", metavar="SECONDS", number=float),
    Option("json", "write the machine-readable result to PATH", parse="parse_output_file", metavar="PATH"),
    Option("public_roots", "PEM bundle of the roots a non-intercepted provider chains to "
           "(default: certifi)", parse="parse_existing_file", metavar="PATH"),
    Option("ca_out", "where to save an interception CA that was found (default: "
           "./proxydiag-ca/proxy-ca.pem)", parse="parse_output_path", metavar="PATH"),
    Option("clients", "real clients that prove a fix: auto, none, or a comma list of "
           "curl,requests,httpx,node,claude,boto3 (default auto; boto3 for Bedrock targets only)", default="auto",
           parse="parse_clients", metavar="LIST"),
    Option("fix_script", "write the verified fixes as a script to source (.sh, .fish, .ps1)",
           parse="parse_output_file", metavar="PATH"),
    # Any text is a symptom; an unreadable symptom file is triage's usage error (it reads the file once).
    Option("symptom", "the error text you see; its flowchart branches run first", metavar="TEXT"),
    Option("symptom_file", "file (or - for stdin) holding the error text or log you see", metavar="PATH"),
    Option("compare", "an earlier run's JSON to compare this run with", parse="parse_existing_file",
           metavar="PATH"),
    Option("bundle", "write HTML, JSON, JUnit, CA and a summary into one zip", parse="parse_output_file",
           metavar="PATH"),
    Option("aws_region", "AWS region(s) for Bedrock domains (default: AWS_REGION, AWS_DEFAULT_REGION)",
           kind="list", parse="parse_region", metavar="REGION", env=("AWS_REGION", "AWS_DEFAULT_REGION")),
    Option("vertex_region", "Vertex AI region(s) (default: CLOUD_ML_REGION)", kind="list",
           parse="parse_region", metavar="REGION", env=("CLOUD_ML_REGION",)),
    Option("litellm_config", "LiteLLM config file (default: LITELLM_CONFIG, ./config.yaml)",
           parse="parse_existing_file", metavar="PATH", env=("LITELLM_CONFIG",)),
    Option("pac_url", "proxy auto-config (PAC) URL or file to evaluate", parse="parse_pac", metavar="URL"),
    Option("reference", "a name the proxy should let anyone reach, CONNECTed when the provider is refused: the "
           "same refusal for it means the proxy refuses this machine, not the provider (default google.com:443, "
           "the flowchart's step 3; none: never)", default=("google.com", 443), parse="parse_reference",
           metavar="HOST:PORT"),
    Option("port_candidates", "extra proxy ports the port step tries besides 8080, 3128, 8888, 8118, 8443",
           kind="list", parse="parse_port", metavar="PORT"),
    Option("latency_threshold", "seconds the proxy may add before it is a finding (default 2)",
           default=2.0, parse="parse_seconds", metavar="SECONDS", number=float),
    Option("health_samples", "number of probes of the proxy-health step (default 10)", default=10,
           parse="parse_health_samples", metavar="N", number=int),
    Option("health_threshold", "mean latency in seconds above which the proxy is slow (default 0.5)",
           default=0.5, parse="parse_seconds", metavar="SECONDS", number=float),
    Option("payload_sizes", "body sizes tried by the payload-size step (default 16K,256K,1M,4M,16M)",
           default=[16 * 1024, 256 * 1024, 1024 ** 2, 4 * 1024 ** 2, 16 * 1024 ** 2],
           parse="parse_sizes", metavar="SIZES", number=int),
)
OPTIONS_BY_NAME = {o.name: o for o in OPTIONS}


def typed_ini() -> bool:
    """Whether pytest takes a union of types for an ini key (``str | float``): pytest 9.2 and later."""
    import pytest

    return tuple(pytest.version_tuple[:2]) >= (9, 2)


def ini_type(opt: Option, typed: bool) -> Any:
    """The ``type`` of the option's ini key.

    Text comes first in every union, so an ini file's text reaches this tool's parser as it was
    written (and a bad value is shown as written); the TOML types follow, for pytest 9's native
    ``[tool.pytest]`` table, where ``proxydiag_timeout = 3`` stays a number.  Before pytest 9.2 a key is
    a plain string (or line list) and the resolver reads a native TOML value itself.
    """
    if opt.kind == "list":
        return "linelist"
    if not typed:
        return None
    if opt.kind == "bool":
        return str | bool
    return str | opt.number if opt.number else str


def addoptions(parser) -> None:
    """Declare every option and its ini key (called from ``pytest_addoption``)."""
    group = parser.getgroup("proxydiag", "corporate proxy diagnosis (pytest-proxydiag)")
    group.addoption("--proxydiag", action="store_true", default=False,
                    help="run the proxy diagnosis (the plugin is dormant without it)")
    typed = typed_ini()
    for opt in OPTIONS:
        if opt.kind == "bool":
            group.addoption(opt.flag, action="store_true", default=None, dest=opt.ini, help=opt.help)
        elif opt.kind == "list":
            group.addoption(opt.flag, action="append", default=None, dest=opt.ini, metavar=opt.metavar,
                            help=opt.help)
        else:
            group.addoption(opt.flag, action="store", default=None, dest=opt.ini, metavar=opt.metavar,
                            help=opt.help)
        # default None (a list: []): an unset key is told apart from an explicit "false" without
        # config.inicfg (deprecated in pytest 9).  A bool key is judged by this tool's parser in every
        # pytest version, so a bad value reads the same everywhere.
        parser.addini(opt.ini, opt.help, type=ini_type(opt, typed), default=[] if opt.kind == "list" else None)


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
    #: The API spoken to it, "anthropic", "bedrock" or "vertex" ("": by its host name).
    mode: str = ""
    #: How a default target was worked out from the user's Claude Code (variables and where each was set).
    why: str = ""

    @property
    def api(self) -> str:
        from pytest_proxydiag.branches.providers import claude_mode

        return self.mode or claude_mode(self.host, {})

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
    #: The variables the user's Claude Code sees: ``env`` with its settings scopes' ``env`` on top
    #: (``machine/claude_target``'s view; a region set only in ~/.claude/settings.json is in it).
    claude_env: Mapping[str, str] = field(default_factory=dict)

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
            "targets": [{"value": redact(t.url), "source": t.source,
                         **({"api": t.api} if t.api != "anthropic" else {}),
                         **({"why": redact(t.why)} if t.why else {})} for t in self.targets],
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


#: ``scheme://user:password@``: what a usage error masks (compiled on first use: the dormant plugin
#: imports this module and never needs it).
_USERINFO_PASSWORD = r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:)[^\s]*(?=@)"


def _shown(value: Any) -> str:
    """A value as a usage error shows it: text quoted (a TOML number, bool or array as written), the
    password of a URL masked, bounded."""
    text = re.sub(_USERINFO_PASSWORD, lambda m: m.group("head") + "***", str(value))
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= 200 else text[:197] + "..."


def _overridden(config, opt: Option) -> bool:
    """Whether ``-o proxydiag_NAME=...`` set the key (pytest's public ``override_ini`` option)."""
    overrides = config.getoption("override_ini", None) or []
    return any(str(o).split("=", 1)[0].strip() == opt.ini for o in overrides)


def _where(config, opt: Option, source: str) -> tuple[str, str]:
    """The option as the user wrote it, and where: ``--proxydiag-timeout ... from cli``."""
    if source == "ini":
        if _overridden(config, opt):
            return opt.ini, "-o (override_ini)"
        inipath = getattr(config, "inipath", None)
        return opt.ini, f"ini ({inipath})" if inipath else "ini"
    if source.startswith("env:"):
        return source[4:], source
    return opt.flag, source


#: What each kind of key holds, as a refused value's line says it (this tool's words, not pytest's).
_EXPECTED = {"bool": "true or false", "list": "a list of text values", "str": "text"}
_MISSING = object()


def _read_ini(config, opt: Option) -> Any:
    """The key's value; a native TOML value pytest refuses but this tool reads is taken as such.

    pytest refuses a value of another type than the key's declared one (a ValueError or TypeError
    before pytest 9.2, a UsageError in its own words since).  Then the raw value decides: a number
    where text or a number is meant, a list of numbers (``proxydiag_port_candidates = [3129]``), a
    TOML bool for a bool key are this tool's to judge; anything else is a usage error naming the
    key, the value and the file, in this tool's words in every pytest version.
    """
    import pytest

    try:
        value = config.getini(opt.ini)
    except (ValueError, TypeError, pytest.UsageError):
        raw = _toml_raw(config, opt)
        usable = _toml_usable(opt, raw)
        if usable is not None:
            return usable
        name, where = _where(config, opt, "ini")
        shown = "" if raw is _MISSING else f" {_shown(raw)}"
        expected = _EXPECTED[opt.kind] + {int: " or a whole number", float: " or a number"}.get(opt.number, "")
        kind = "" if raw is _MISSING else f", not a TOML {_toml_type(raw)}"
        raise OptionValueError(f"invalid {name} value{shown} from {where}: must be {expected}{kind}") from None
    # A native TOML number (a typed key, pytest 9.2) is read as its text, like an ini file's value.
    return _toml_usable(opt, value) if opt.kind == "str" and _is_number(value) else value


def _toml_raw(config, opt: Option) -> Any:
    """The key's value as pytest 9 read it from the native ``[tool.pytest]`` table (or _MISSING).

    pytest has no public reader of the raw value, so its private table is asked, only here, only
    after pytest refused the value, and only when the table is there.
    """
    entry = getattr(config, "_inicfg", {}).get(opt.ini)
    return getattr(entry, "value", _MISSING)


def _toml_type(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "float", str: "string", list: "array",
            dict: "table"}.get(type(value), type(value).__name__)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _toml_usable(opt: Option, value: Any) -> Any:
    """*value* as the resolver reads it, if it is a TOML value of a type this key takes; else None."""
    if opt.kind == "bool":
        return value if isinstance(value, bool) else None
    if opt.kind == "str" and _is_number(value):
        return str(value)
    if opt.kind == "list":
        items = value if isinstance(value, list) else [value]
        if items and all(_is_number(v) or isinstance(v, str) for v in items):
            return [str(v) for v in items]
    return None


def _raw_value(config, opt: Option, env: Mapping[str, str]) -> tuple[Any, str]:
    cli = config.getoption(opt.ini, default=None)
    if opt.kind == "list":
        if cli:
            return list(cli), "cli"
        ini = _read_ini(config, opt)
        if ini:
            return list(ini), "ini"
    elif opt.kind == "bool":
        if cli:
            return True, "cli"
        ini = _read_ini(config, opt)
        if isinstance(ini, bool):  # a native TOML bool
            return ini, "ini"
        if isinstance(ini, str) and ini.strip():  # unset reads None ("" in pytest 7.4)
            return ini, "ini"
    else:
        if cli is not None:
            return cli, "cli"
        ini = _read_ini(config, opt)
        if ini not in (None, "", []):
            return ini, "ini"
    for name in opt.env:
        if env.get(name):
            value = env[name]
            return ([value] if opt.kind == "list" else value), f"env:{name}"
    return opt.default, "default"


def _parse_value(opt: Option, raw: Any) -> Any:
    """Parse *raw* with the option's parser; ValueError names the offending item (of a list)."""
    from pytest_proxydiag.core import parsers

    if opt.kind == "bool":
        return parsers.parse_bool(raw)
    if opt.parse is None:
        return raw
    parse = getattr(parsers, opt.parse)
    if opt.kind != "list":
        return parse(raw)
    out = []
    for item in raw:
        try:
            out.append(parse(item))
        except (ValueError, TypeError) as exc:
            raise _ItemError(item, exc) from None
    return out


class _ItemError(ValueError):
    def __init__(self, item: Any, exc: Exception) -> None:
        super().__init__(str(exc))
        self.item = item


class _OptionsOnly:
    """The part of a pytest config :func:`resolve_settings` reads: option values, no ini file."""

    inipath = None

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = dict(options)

    def getoption(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    def getini(self, name: str) -> Any:
        return None


def settings_from_options(options: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Settings:
    """Settings from option values alone (keys as ``proxydiag_timeout``, values as the command line gives
    them), without pytest: for a probe layer built by a script, a benchmark or a unit test."""
    return resolve_settings(_OptionsOnly(options), env=env)


def _targets(given: Sourced[Any], env: Mapping[str, str],
             problems: list[str]) -> tuple[tuple[Target, ...], Mapping[str, str]]:
    """The option's targets, else the endpoint the user's Claude Code calls, else :data:`DEFAULT_TARGET`; and the
    variables that Claude Code sees (the shell's with the settings scopes' ``env`` on top).

    Each speaks the API Claude Code would speak to it (``machine/claude_target.py`` reads the shell and the
    settings scopes); a passed-over value of the user's (a bad ``ANTHROPIC_BEDROCK_BASE_URL``) is a problem.
    """
    from pytest_proxydiag.branches.providers import claude_mode
    from pytest_proxydiag.machine.claude_target import user_target

    user = user_target(env)
    if given.source != "default" and given.value:
        return tuple(Target(u, given.source, claude_mode(urlsplit(u).hostname or "", user.view))
                     for u in given.value), user.view
    problems.extend(user.problems)
    if user.url is None:
        return (Target(DEFAULT_TARGET, "default", "anthropic"),), user.view
    return (Target(user.url, user.source, user.mode, user.why),), user.view


def resolve_settings(config, env: Mapping[str, str] | None = None) -> Settings:
    """Resolve every option: CLI, then ini, then environment, then default.

    Raises :class:`OptionValueError` (one line: option, value, source, why) for
    a bad value from the command line or the ini file; a bad value from the
    environment is kept in :attr:`Settings.problems`.
    """
    env = dict(os.environ if env is None else env)
    problems: list[str] = []
    values: dict[str, Sourced[Any]] = {}
    for opt in OPTIONS:
        raw, source = _raw_value(config, opt, env)
        value = raw
        if source != "default" and raw is not None:
            try:
                value = _parse_value(opt, raw)
            except (ValueError, TypeError) as exc:
                # A name-of-a-secret option holding something else may hold the secret itself: never echo it.
                shown = "(not shown)" if opt.name == "gateway_key_env" else \
                    _shown(exc.item if isinstance(exc, _ItemError) else raw)
                name, where = _where(config, opt, source)
                message = f"invalid {name} value {shown} from {where}: {exc}"
                if source in ("cli", "ini"):
                    raise OptionValueError(message) from None
                problems.append(message)
                value, source = opt.default, "default"
        values[opt.name] = Sourced(value, source)

    targets, claude_env = _targets(values["target"], env, problems)
    raw_proxy, proxy_source = values["proxy"].value, values["proxy"].source
    if raw_proxy is None:
        raw_proxy, proxy_source = proxy_from_env(env)
    if raw_proxy is None:
        # None in the shell: the one Claude Code gets from a settings scope's env is the proxy its traffic takes.
        raw_proxy, name = proxy_from_env(claude_env)
        proxy_source = "settings:" + name.removeprefix("env:") if raw_proxy is not None else proxy_source
    from pytest_proxydiag.core.proxyurl import ProxyURLError, parse_proxy_url

    proxy = ProxySetting(raw=raw_proxy, source=proxy_source)
    if raw_proxy is not None:
        try:
            proxy = ProxySetting(raw=raw_proxy, source=proxy_source,
                                 url=parse_proxy_url(raw_proxy, source=proxy_source))
        except ProxyURLError as exc:
            proxy = ProxySetting(raw=raw_proxy, source=proxy_source, error=str(exc))

    # Keep the order, drop duplicates: a target given twice is probed once.
    seen: dict[str, Target] = {}
    for t in targets:
        seen.setdefault(t.url.rstrip("/"), t)
    targets = tuple(seen.values())

    gateway = values["gateway"]
    if gateway.value is None:
        # What Claude Code calls: a settings scope's env wins over the shell's (claude_env is that view).
        base = claude_env.get("ANTHROPIC_BASE_URL") or env.get("ANTHROPIC_BASE_URL")
        base_source = "env:ANTHROPIC_BASE_URL" if base == env.get("ANTHROPIC_BASE_URL") \
            else "settings:ANTHROPIC_BASE_URL"
        if base:
            try:
                from pytest_proxydiag.core.parsers import parse_url

                base = parse_url(base)
                host = urlsplit(base).hostname or ""
                if not host.endswith("anthropic.com"):
                    gateway = Sourced(base, base_source)
            except ValueError as exc:
                problems.append(f"invalid ANTHROPIC_BASE_URL {base!r} from {base_source}: {exc}")

    resolve = {(h, p): a for (h, p, a) in (values["resolve"].value or [])}
    proxy_env = {k: v for k, v in env.items()
                 if k.lower() in ("https_proxy", "http_proxy", "all_proxy", "no_proxy")}
    return Settings(proxy=proxy, targets=targets, gateway=gateway, resolve=resolve, values=values,
                    env=env, problems=tuple(problems), proxy_env=proxy_env, claude_env=dict(claude_env))
