"""The trust store each client reads in an environment, and whether it accepts a chain.

Each client is emulated on purpose (its own variables, in its own order), so
the verdicts say what that client would do, not what a perfect validator would.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from cryptography import x509

from pytest_proxydiag.catalog.certificate import say_fact as _t
from pytest_proxydiag.machine import claude_settings, litellm_config
from pytest_proxydiag.proof.client_rules import curl_dir_shadows_file, installed_curl_version
from pytest_proxydiag.machine.aws_config import aws_profile_value

from .cafiles import FILES, CAFile, _FileCache, certifi_bundle, system_bundle
from .chains import build_path, common_name

def claude_settings_env(home: str | None) -> tuple[dict[str, str], str | None, str | None]:
    """The ``env`` Claude Code applies to itself, every settings scope merged: (env, file(s), error)."""
    if not home:
        return {}, None, None
    cs = claude_settings.read(home, os.getcwd())
    bad = next((f for f in cs.files if f.problem), None)
    return (dict(cs.env), cs.label() or (bad.path if bad else None),
            bad.problem.removeprefix(bad.path + " ") if bad else None)


def litellm_ssl_settings(config_path: str | None, env: Mapping[str, str]) -> dict[str, Any]:
    """LiteLLM's TLS settings: ``ssl_verify`` (bool or a CA path) from its config and ``SSL_VERIFY``.

    Returns ``{"config": path|None, "ssl_verify": value|None, "source": ..., "error": ...}``.
    """
    out: dict[str, Any] = {"config": None, "ssl_verify": None, "source": None, "error": None}
    found = litellm_config.locate(config_path, "cli", os.getcwd())
    if found is not None and os.path.isfile(found.path):
        out["config"] = found.path
        data, out["error"] = litellm_config.load(found.path)
        for section in ("litellm_settings", "general_settings"):
            block = (data or {}).get(section)
            if isinstance(block, dict) and "ssl_verify" in block:
                out["ssl_verify"] = block["ssl_verify"]
                out["source"] = f"{found.path}: {section}.ssl_verify"
                break
    if out["ssl_verify"] is None and env.get("SSL_VERIFY", "") != "":
        out["ssl_verify"] = env["SSL_VERIFY"]
        out["source"] = "env:SSL_VERIFY"
    return out


def _falsy(value: Any) -> bool:
    return value is False or str(value).strip().lower() in ("0", "false", "no", "off")


@dataclass(frozen=True)
class StoreSpec:
    """Where one client takes its trusted roots from, in this environment."""

    client: str
    label: str                          # e.g. "requests (also Python pip, LiteLLM's requests)"
    sources: tuple[tuple[str, str, str], ...]   # (var or "default", path, "file"|"dir")
    via: str
    relevant: bool = True
    disabled: str | None = None         # verification turned off, and by what
    extra: bool = False                 # sources add to built-in roots (NODE_EXTRA_CA_CERTS)
    builtin: str | None = None          # the built-in roots the extra sources add to
    fatal_if_bad: bool = False          # a bad source breaks the client entirely (Claude Code)
    note: str = ""
    claude: Any = field(default=None, compare=False)   # claude_trust.ClaudeTrust: why Claude Code reads what it reads
    unhashed_dirs_ok: bool = False      # reads every file of a CA directory, hash links or not (Claude Code native)
    version: str | None = None          # the client's version, where a rule depends on it (Claude Code)


def client_stores(env: Mapping[str, str], *, home: str | None = None, litellm_config: str | None = None,
                  gateway: str | None = None, cwd: str | None = None,
                  claude_install: Any = None, node_version: str | None = None,
                  curl_version: str | None = None) -> dict[str, StoreSpec]:
    """The trust store of every client in *env* (what it would read, in its own order).

    *curl_version* is the installed curl's (read from ``curl --version`` when not given)."""
    if curl_version is None:
        curl_version = installed_curl_version()
    def val(name: str) -> str | None:
        v = env.get(name)
        return v if v not in (None, "") else None

    def first_set(*candidates: tuple[str, str], otherwise: tuple[str, str, str]) -> tuple[str, str, str]:
        """The source of the first variable set among ``(name, "file"|"dir"|"any")`` candidates, else *otherwise*."""
        for name, kind in candidates:
            if val(name):
                return (name, env[name], kind)
        return otherwise

    certifi_path = certifi_bundle()
    sys_path, _family = system_bundle()
    import ssl

    dvp = ssl.get_default_verify_paths()
    stores: dict[str, StoreSpec] = {}

    # requests: REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE (a file or a directory), else certifi.
    certifi_src = ("certifi", certifi_path or "", "file")
    src = first_set(("REQUESTS_CA_BUNDLE", "any"), ("CURL_CA_BUNDLE", "any"), otherwise=certifi_src)
    stores["requests"] = StoreSpec("requests", "requests", (src,), _via(src))

    # Python's ssl defaults (urllib, ssl.create_default_context): SSL_CERT_FILE and SSL_CERT_DIR,
    # else OpenSSL's compiled-in paths; both the file and the directory are consulted.
    f_src = first_set(("SSL_CERT_FILE", "file"), otherwise=("default", dvp.openssl_cafile, "file"))
    d_src = first_set(("SSL_CERT_DIR", "dir"), otherwise=("default", dvp.openssl_capath, "dir"))
    py_sources = tuple(s for s in (f_src, d_src) if s[1] and (s[0] != "default" or os.path.exists(s[1])))
    stores["python-ssl"] = StoreSpec("python-ssl", "Python ssl/urllib",
                                     py_sources, " + ".join(_via(s) for s in py_sources) or _t("no_ca_file"))

    # httpx (and the Anthropic SDK, which uses it): SSL_CERT_FILE, else SSL_CERT_DIR, else certifi.
    hsrc = first_set(("SSL_CERT_FILE", "file"), ("SSL_CERT_DIR", "dir"), otherwise=certifi_src)
    stores["httpx"] = StoreSpec("httpx", "httpx/Anthropic SDK", (hsrc,), _via(hsrc))

    # curl: CURL_CA_BUNDLE, then SSL_CERT_DIR / SSL_CERT_FILE, else its built-in bundle.  Before curl 8.3
    # SSL_CERT_DIR shadows SSL_CERT_FILE (measured with 7.88.1: a corporate bundle in SSL_CERT_FILE is ignored
    # while SSL_CERT_DIR=/etc/ssl/certs is set, and curl keeps its built-in bundle; curl issue 11325).
    curl_note = ""
    if val("CURL_CA_BUNDLE"):
        csrc: tuple[tuple[str, str, str], ...] = (("CURL_CA_BUNDLE", env["CURL_CA_BUNDLE"], "file"),)
    elif val("SSL_CERT_DIR") and val("SSL_CERT_FILE") and curl_dir_shadows_file(curl_version):
        csrc = (("SSL_CERT_DIR", env["SSL_CERT_DIR"], "dir"), ("system", sys_path or dvp.cafile or "", "file"))
        curl_note = _t("curl_dir_shadows_file", version=curl_version or "")
    elif val("SSL_CERT_FILE") or val("SSL_CERT_DIR"):
        csrc = tuple(s for s in (("SSL_CERT_FILE", env.get("SSL_CERT_FILE", ""), "file"),
                                 ("SSL_CERT_DIR", env.get("SSL_CERT_DIR", ""), "dir")) if s[1])
    else:
        csrc = (("system", sys_path or dvp.cafile or "", "file"),)
    stores["curl"] = StoreSpec("curl", "curl", csrc, " + ".join(_via(s) for s in csrc), note=curl_note)

    # Node: its bundled Mozilla roots (certifi holds the same list) plus NODE_EXTRA_CA_CERTS.
    extra = ("NODE_EXTRA_CA_CERTS", env["NODE_EXTRA_CA_CERTS"], "file") if val("NODE_EXTRA_CA_CERTS") else None
    node_disabled = "NODE_TLS_REJECT_UNAUTHORIZED=0" if env.get("NODE_TLS_REJECT_UNAUTHORIZED", "").strip() == "0" \
        else None
    # NODE_USE_SYSTEM_CA=1 / --use-system-ca add the OS store where this Node has them (claude_trust's gates).
    node_sources = (extra,) if extra else ()
    node_system = _node_reads_os_store(env, node_version)
    if node_system and sys_path:
        node_sources += (("system", sys_path, "file"),)
    stores["node"] = StoreSpec("node", "Node.js", node_sources,
                               (_via(extra) + " + " if extra else "") + ("system + " if node_system else "")
                               + _t("node_bundled_roots"),
                               disabled=node_disabled, extra=True, builtin=certifi_path,
                               note="" if extra else _t("extra_not_set"))
    if "--use-openssl-ca" in (env.get("NODE_OPTIONS") or "").split():
        # OpenSSL's store replaces the bundled roots: SSL_CERT_FILE / SSL_CERT_DIR, else OpenSSL's default paths,
        # like Python's ssl (measured with Node 24.11.1 and 20.20.2); NODE_EXTRA_CA_CERTS still adds.
        openssl = ((extra,) if extra else ()) + py_sources
        stores["node"] = StoreSpec("node", "Node.js", openssl, " + ".join(_via(s) for s in openssl)
                                   + _t("node_openssl_ca"), disabled=node_disabled)

    # Claude Code: what its build, its settings scopes and CLAUDE_CODE_CERT_STORE make it read (claude_trust);
    # a DER file in NODE_EXTRA_CA_CERTS breaks it.
    stores["claude-code"] = claude_store(env, home=home, cwd=cwd, certifi_path=certifi_path, sys_path=sys_path,
                                         install=claude_install)

    # boto3/botocore (Bedrock from Python): AWS_CA_BUNDLE, else ca_bundle in ~/.aws/config, else
    # REQUESTS_CA_BUNDLE, else certifi; never SSL_CERT_FILE (measured, botocore 1.43).
    stores["boto3"] = boto3_store(env, home, certifi_path)

    # LiteLLM: ssl_verify (false, or a CA path) from its config or SSL_VERIFY, else like httpx.
    lite = litellm_ssl_settings(litellm_config, env)
    relevant = bool(lite["config"] or gateway)
    sv = lite["ssl_verify"]
    if sv is not None and _falsy(sv):
        stores["litellm"] = StoreSpec("litellm", "LiteLLM", (), _t("litellm_ssl_off", source=lite["source"]),
                                      relevant=relevant, disabled=_t("litellm_ssl_off_where", source=lite["source"]))
    elif isinstance(sv, str) and sv.strip() and sv.strip().lower() not in ("true", "1", "yes", "on"):
        lsrc = (lite["source"] or "ssl_verify", sv.strip(), "any")
        stores["litellm"] = StoreSpec("litellm", "LiteLLM", (lsrc,), _via(lsrc), relevant=relevant)
    else:
        stores["litellm"] = StoreSpec("litellm", "LiteLLM", (hsrc,), _via(hsrc), relevant=relevant)
    return stores


def aws_config_ca_bundle(env: Mapping[str, str], home: str | None) -> tuple[str, str] | None:
    """``(ca_bundle, "<config file> [<section>]")`` of the AWS profile in use, or None."""
    found = aws_profile_value(env, home, "ca_bundle")
    return (os.path.expanduser(found[0]), found[1]) if found else None


def boto3_store(env: Mapping[str, str], home: str | None, certifi_path: str | None) -> StoreSpec:
    """boto3/botocore's store; it counts (``relevant``) for a Bedrock user or one who set its CA variable."""
    from pytest_proxydiag.branches import providers

    config = aws_config_ca_bundle(env, home or env.get("HOME"))
    if env.get("AWS_CA_BUNDLE"):
        src = ("AWS_CA_BUNDLE", env["AWS_CA_BUNDLE"], "any")
    elif config:
        src = (f"ca_bundle ({config[1]})", config[0], "any")
    elif env.get("REQUESTS_CA_BUNDLE"):
        src = ("REQUESTS_CA_BUNDLE", env["REQUESTS_CA_BUNDLE"], "any")
    else:
        src = ("certifi", certifi_path or "", "file")
    relevant = providers.uses_bedrock(env) or bool(env.get("AWS_CA_BUNDLE") or config)
    return StoreSpec("boto3", "boto3/botocore", (src,), _via(src), relevant=relevant)


def _node_reads_os_store(env: Mapping[str, str], node_version: str | None) -> bool:
    """Plain Node reads the OS store only when told to and able to (NODE_USE_SYSTEM_CA, --use-system-ca)."""
    from pytest_proxydiag.proof import node_rules

    return node_rules.reads_os_store(node_rules.parse_version(node_version), env) is not None


def claude_store(env: Mapping[str, str], *, home: str | None, cwd: str | None, certifi_path: str | None,
                 sys_path: str | None, install: Any = None, os_store: Any = None) -> StoreSpec:
    """Claude Code's store from :func:`claude_trust.claude_trust`; *install* from :func:`find_claude`;
    *os_store* (:class:`~pytest_proxydiag.machine.platform_stores.OsStore`, default this machine's) is the
    Keychain or Windows store on macOS/Windows."""
    from . import claude_trust as ct

    from pytest_proxydiag.machine.platform_stores import this_machine_os_store

    layers = ct.settings_layers(home or env.get("HOME"), cwd, env)
    native = os_store if os_store is not None else this_machine_os_store()
    node = getattr(install, "node", None)
    trust = ct.claude_trust(env, layers, build=getattr(install, "build", "native"),
                            node_version=node.version if node is not None else None, system_bundle=sys_path,
                            os_store=(native.os, native.path) if native is not None and native.path else None)
    sources: list[tuple[str, str, str]] = []
    if trust.extra:
        sources.append((trust.extra[0], trust.extra[1], "file"))
    for label, path in trust.system_sources:
        sources.append((label, path, "dir" if label.startswith("SSL_CERT_DIR") else "file"))
    # The Keychain / Windows store is named as such, not as the PEM copy the matrix reads.
    via = " + ".join(native.label if native is not None and native.path and s[1] == native.path else _via(s)
                     for s in sources)
    if trust.bundled:
        via = (via + " + " if via else "") + _t("bundled_roots")
    notes = [ct_text(key, values) for key, values in trust.reasons if key in NARROWING_REASONS]
    if not trust.extra:
        notes.append(_t("extra_not_set_claude"))
    disabled = None
    if trust.disabled:
        disabled = trust.disabled[0] + ("" if trust.disabled[1] == "environment" else _t("in_file", path=trust.disabled[1]))
    version = getattr(install, "version", None)
    return StoreSpec("claude-code", "Claude Code", tuple(sources), via or _t("no_store"), disabled=disabled, extra=True,
                     builtin=certifi_path if trust.bundled else None, fatal_if_bad=not ignores_bad_extra(version),
                     note="; ".join(notes), claude=trust, version=version, unhashed_dirs_ok=trust.build != "node")


#: The first Claude Code measured to ignore an unreadable NODE_EXTRA_CA_CERTS (a DER, missing or garbled file): it
#: says "Claude Code ignored all of the NODE_EXTRA_CA_CERTS file" and keeps its other stores. 2.1.197 failed every
#: request instead (tests/test_clients.py measures both facts with the real client).
IGNORES_BAD_EXTRA_FROM = (2, 1, 332)


def ignores_bad_extra(version: str | None) -> bool:
    """Whether Claude Code *version* ignores a bad NODE_EXTRA_CA_CERTS; an unknown version is not assumed to."""
    import re

    parts = tuple(int(x) for x in re.findall(r"\d+", version or "")[:3])
    return len(parts) == 3 and parts >= IGNORES_BAD_EXTRA_FROM


#: Reasons that take a store away from Claude Code: each is said in its trust row.
NARROWING_REASONS = ("cert_store_bundled", "cert_store_system", "node_too_old", "os_store_var_in_settings")


def ct_text(key: str, values: Mapping[str, Any]) -> str:
    """One sentence of the catalog's ``CLAUDE_TRUST`` texts, filled."""
    from pytest_proxydiag.catalog.certificate import CLAUDE_TRUST

    return CLAUDE_TRUST[key].format(**values)


def _via(src: tuple[str, str, str] | None) -> str:
    if not src:
        return ""
    var, path, _kind = src
    if var in ("certifi", "system", "default"):
        return f"{var} ({path})" if path else var
    return f"{var}={path}"


@dataclass
class ClientTrust:
    """Whether one client would accept the presented chain today."""

    client: str
    label: str
    trusted: bool
    via: str
    why: str
    relevant: bool = True
    disabled: str | None = None
    bad_files: list[CAFile] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"trusted": self.trusted, "via": self.via, "why": self.why, "label": self.label}
        if not self.relevant:
            d["relevant"] = False
        if self.disabled:
            d["verification_disabled"] = self.disabled
        if self.bad_files:
            d["bad_files"] = [f.as_dict() for f in self.bad_files]
        return d


BUILTIN_SOURCES = ("certifi", "system", "default")


def trust_matrix(chain: Sequence[x509.Certificate], stores: Mapping[str, StoreSpec],
                 files: _FileCache | None = None,
                 reference: Sequence[x509.Certificate] = ()) -> dict[str, ClientTrust]:
    """For every client: would it accept *chain* with the store it reads today, and why (not).

    *reference* (``--proxydiag-public-roots``) counts as part of every
    built-in store (certifi, the system bundle, Node's bundled roots): it
    names the roots a non-intercepted provider chains to.
    """
    files = files or FILES
    out: dict[str, ClientTrust] = {}
    for name, spec in stores.items():
        roots: list[x509.Certificate] = []
        bad: list[CAFile] = []
        if spec.extra or any(var in BUILTIN_SOURCES for var, _p, _k in spec.sources):
            roots += list(reference)
        for var, path, kind in spec.sources:
            if not path:
                continue
            f = files.get(var, path, kind)
            if f.ok:
                roots += f.certs
            elif var in ("default", "system") and f.status in ("missing", "empty"):
                continue  # no compiled-in bundle here: not the user's doing
            elif spec.unhashed_dirs_ok and f.status == "not_hashed":
                roots += f.certs  # measured: Claude Code 2.1.332 reads such a directory
            else:
                # DER, missing, empty, un-hashed directory...: the client cannot use it.
                bad.append(f)
        if spec.extra and spec.builtin:
            roots += files.get("certifi", spec.builtin, "file").certs
        if spec.disabled:
            out[name] = ClientTrust(name, spec.label, True, spec.via, _t("verification_off", how=spec.disabled),
                                    spec.relevant, spec.disabled, bad)
            continue
        fatal = [f for f in bad if spec.fatal_if_bad and f.var and "NODE_EXTRA_CA_CERTS" in f.var
                 and f.status != "relative"]
        res = build_path(chain, roots)
        if fatal:
            f = fatal[0]
            why = _t("claude_bad_extra", label=f.label, problem=f.detail or f.status)
            out[name] = ClientTrust(name, spec.label, False, spec.via, why, spec.relevant, None, bad)
            continue
        if res.trusted:
            why = _t("chains_to", name=common_name(res.anchor.subject), via=spec.via)
        else:
            parts = [res.reason]
            if bad:
                parts.append("; ".join(_t("file_is", label=f.label, problem=f.detail or f.status) for f in bad))
            if spec.note:
                parts.append(spec.note)
            why = "; ".join(p for p in parts if p)
        out[name] = ClientTrust(name, spec.label, res.trusted, spec.via, why, spec.relevant, None, bad)
    return out


# -- CA variables and verification switches ------------------------------------------------
#: Variables that name a CA file or directory, with what they must hold.
CA_VARS: tuple[tuple[str, str, str], ...] = (
    ("SSL_CERT_FILE", "file", _t("ssl_cert_file_users")),
    ("SSL_CERT_DIR", "dir", _t("ssl_cert_dir_users")),
    ("REQUESTS_CA_BUNDLE", "any", "Python requests"),
    ("CURL_CA_BUNDLE", "file", "curl and Python requests"),
    ("NODE_EXTRA_CA_CERTS", "file", "Node.js and Claude Code"),
)
#: Variables that replace the whole store (a bundle there must also hold the public roots).
REPLACING_VARS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def ca_var_files(env: Mapping[str, str], files: _FileCache | None = None,
                 home: str | None = None) -> list[CAFile]:
    """Every CA variable that is set to a non-empty value, read (also NODE_EXTRA_CA_CERTS from Claude settings)."""
    files = files or FILES
    out = []
    for var, kind, _users in CA_VARS:
        value = env.get(var)
        if value:
            out.append(files.get(var, value, kind))
    settings_env, settings_path, _ = claude_settings_env(home or env.get("HOME"))
    if not env.get("NODE_EXTRA_CA_CERTS") and settings_env.get("NODE_EXTRA_CA_CERTS"):
        out.append(files.get(f"NODE_EXTRA_CA_CERTS (in {settings_path})", settings_env["NODE_EXTRA_CA_CERTS"],
                             "file"))
    return out


def disabled_verification(env: Mapping[str, str], *, home: str | None = None,
                          litellm_config: str | None = None) -> list[dict[str, str]]:
    """Every place verification is switched off (or meant to be), with what it does to whom."""
    found: list[dict[str, str]] = []
    req_effect = _requests_empty_effect()
    for var, effect in (
        ("CURL_CA_BUNDLE", _t("empty_curl", requests=req_effect)),
        ("REQUESTS_CA_BUNDLE", _t("empty_requests", requests=req_effect)),
        ("SSL_CERT_FILE", _t("empty_ssl_cert_file")),
    ):
        if var in env and env[var].strip() == "":
            found.append({"where": f"{var}=\"\"", "var": var, "effect": effect})
    if env.get("NODE_TLS_REJECT_UNAUTHORIZED", "").strip() == "0":
        found.append({"where": "NODE_TLS_REJECT_UNAUTHORIZED=0", "var": "NODE_TLS_REJECT_UNAUTHORIZED",
                      "effect": _t("node_reject_off")})
    if env.get("PYTHONHTTPSVERIFY", "").strip() == "0":
        found.append({"where": "PYTHONHTTPSVERIFY=0", "var": "PYTHONHTTPSVERIFY",
                      "effect": _t("pythonhttpsverify_off")})
    settings_env, settings_path, _ = claude_settings_env(home or env.get("HOME"))
    if settings_env.get("NODE_TLS_REJECT_UNAUTHORIZED", "").strip() == "0":
        found.append({"where": f"NODE_TLS_REJECT_UNAUTHORIZED=0 in {settings_path} (env)",
                      "var": "NODE_TLS_REJECT_UNAUTHORIZED", "file": settings_path or "",
                      "effect": _t("claude_reject_off")})
    lite = litellm_ssl_settings(litellm_config, env)
    if lite["ssl_verify"] is not None and _falsy(lite["ssl_verify"]):
        found.append({"where": f"ssl_verify: false ({lite['source']})", "var": "SSL_VERIFY"
                      if lite["source"] == "env:SSL_VERIFY" else "ssl_verify",
                      "file": lite["config"] or "", "effect": _t("litellm_accepts_any")})
    return found


def _requests_empty_effect() -> str:
    """What the installed requests does with an empty REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE (read from its code)."""
    try:
        import requests

        s = requests.Session()
        saved = {k: os.environ.get(k) for k in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
        # Evaluated with the installed requests' own rule, without touching the network.
        try:
            os.environ["REQUESTS_CA_BUNDLE"] = ""
            os.environ["CURL_CA_BUNDLE"] = ""
            verify = s.merge_environment_settings("https://example.invalid/", {}, None, None, None)["verify"]
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        if verify is True:
            return _t("requests_ignores_empty", version=requests.__version__)
        if not verify:
            return _t("requests_turns_off", version=requests.__version__)
        return _t("requests_uses", version=requests.__version__, verify=verify)
    except Exception:  # noqa: BLE001
        return _t("requests_old")



def python_context(spec: StoreSpec, reference_pem: bytes | None = None):
    """An ``ssl.SSLContext`` that trusts what the client of *spec* trusts (built like the client builds it).

    Raises what the client would raise (``FileNotFoundError``, ``ssl.SSLError``) for a bad file.
    """
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    builtin = False
    for var, path, kind in spec.sources:
        if not path:
            continue
        if var in BUILTIN_SOURCES:
            builtin = True
            if not os.path.exists(path):
                continue
        if kind == "dir" or (kind == "any" and os.path.isdir(path)):
            ctx.load_verify_locations(capath=path)
        else:
            ctx.load_verify_locations(cafile=path)
    if (builtin or spec.extra) and reference_pem:
        ctx.load_verify_locations(cadata=reference_pem.decode("ascii"))
    return ctx
