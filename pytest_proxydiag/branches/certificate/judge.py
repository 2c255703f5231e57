"""The certificate steps' judgements: evidence in, a :class:`Verdict` out.

A verdict is a catalog key with its values (a finding), a summary (passed), or
a reason (skipped, blocked), plus the fix to show and the evidence to record.
The bundled step tests gather the evidence (probes, files) and apply the
verdict; every sentence comes from :mod:`pytest_proxydiag.catalog.certificate`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from pytest_proxydiag.branches import products, providers
from pytest_proxydiag.branches.judgement import Judgement
from pytest_proxydiag.catalog.certificate import TEXT
from pytest_proxydiag.core.step import export_lines

from . import Analysis, machine_note
from .cafiles import CAFile, certifi_bundle, system_bundle
from .chains import _SHA256, common_name, hostname_matches, validity_problem
from .fixfiles import SavedFiles, compute_fix
from .stores import ClientTrust, ct_text

#: The clients whose verdict decides the interception step (LiteLLM only when it is in use).
MAIN_CLIENTS = ("requests", "python-ssl", "httpx", "curl", "node", "claude-code")
PYTHON_CLIENTS = ("requests", "httpx", "python-ssl")
PYTHON_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
_FILE_FINDING = {"missing": "missing", "dangling": "missing", "empty": "empty", "not_pem": "not_pem",
                 "der": "der", "pkcs7": "der", "directory": "wrong_kind", "not_directory": "wrong_kind",
                 "loop": "unreadable", "unreadable": "unreadable", "not_regular": "unreadable",
                 "too_large": "unreadable", "not_hashed": "not_hashed"}

#: ``save(analysis or None, extra_ca=())``: writes the trust files once per CA and returns them.
Save = Callable[..., SavedFiles]


@dataclass
class Verdict:
    outcome: str                                   # failed, passed, blocked, skipped
    key: str = ""                                  # the finding key, or the blocking step id
    values: dict[str, Any] = field(default_factory=dict)
    summary: str = ""                              # passed summary, or the skip/blocked reason
    fix: dict[str, Any] | None = None              # StepContext.set_fix's keyword arguments
    evidence: dict[str, Any] = field(default_factory=dict)

    def judgement(self) -> Judgement:
        """The same conclusion as every branch's :class:`Judgement` (a summary is measured text)."""
        if self.outcome == "failed":
            return Judgement.fail(self.key, fix=self.fix, record=self.evidence, **self.values)
        outcome = {"passed": "pass", "skipped": "skip", "blocked": "blocked"}[self.outcome]
        return Judgement(outcome, "", by=self.key if outcome == "blocked" else "", detail=self.summary,
                         fix=self.fix, record=self.evidence)

    def conclude(self, step) -> None:
        """End *step* as this verdict says (:meth:`Judgement.conclude`)."""
        __tracebackhide__ = True
        self.judgement().conclude(step)


def say(key: str, **values: Any) -> str:
    return TEXT[key].format(**values)


def fail(key: str, fix: dict | None = None, evidence: dict | None = None, **values: Any) -> Verdict:
    return Verdict("failed", key, values, fix=fix, evidence=evidence or {})


def passed(summary: str, evidence: dict | None = None) -> Verdict:
    return Verdict("passed", summary=summary, evidence=evidence or {})


def matrix_text(trust: Mapping[str, ClientTrust], names) -> str:
    return Analysis.grouped({n: trust[n] for n in names if n in trust})


def fix_files(saved: SavedFiles) -> list[dict]:
    out = []
    if saved.ca_path:
        out.append({"path": saved.ca_path, "change": say("file_ca")})
    if saved.bundle_path:
        out.append({"path": saved.bundle_path, "change": say("file_bundle")})
    if saved.node_ca_path and saved.node_ca_path != saved.ca_path:
        out.append({"path": saved.node_ca_path, "change": say("file_node")})
    for var, path in saved.converted.items():
        out.append({"path": path, "change": say("file_converted", var=var)})
    return out


def node_der_trap(a: Analysis) -> CAFile | None:
    """A DER file in NODE_EXTRA_CA_CERTS (Claude Code's or Node's): it breaks every request."""
    for name in ("claude-code", "node"):
        t = a.trust.get(name)
        for f in (t.bad_files if t is not None else ()):
            if f.status in ("der", "pkcs7") and f.var and "NODE_EXTRA_CA_CERTS" in f.var:
                return f
    return None


# -- step 1: interception ----------------------------------------------------------------------------
def interception(a: Analysis, host: str, hostport: str, *, env: Mapping[str, str], save: Save,
                 disabled: Sequence[Mapping[str, str]], machine: Any = None, node_version: str | None = None) -> Verdict:
    leaf = a.leaf
    issuer = common_name(leaf.cert.issuer)
    base = dict(issuer=issuer, vendor_text=f" ({a.vendor})" if a.vendor else "", leaf=common_name(leaf.cert.subject))
    names = ", ".join(leaf.san) or leaf.subject
    if not a.intercepted:
        if a.incomplete_hint:
            return fail("incomplete_chain", reason=say("aia_hint", urls=", ".join(a.incomplete_hint)), **base)
        problem = a.leaf_validity or (None if a.leaf_host_ok else say("not_valid_for", host=host, names=names))
        if problem:
            return fail("target_cert", problem=problem, **base)
        der = node_der_trap(a)
        if der is not None:
            return _der_trap(a, der, base, save)
        return passed(say("not_intercepted", target=hostport, leaf=base["leaf"], issuer=issuer,
                          root=common_name(a.public.anchor.subject)))
    # The proxy's own certificate problems come first: no trust store fixes them.
    if a.leaf_validity:
        return fail("interceptor_expired", validity=a.leaf_validity, problem=a.leaf_validity, **base)
    if not a.leaf_host_ok:
        return fail("interceptor_wrong_host", names=names,
                    problem=say("not_valid_for_it_names", host=host, names=names), **base)
    return _intercepted(a, base, env=env, save=save, disabled=disabled, machine=machine, node_version=node_version)


def node_system_ca(node_version: str | None, env: Mapping[str, str]) -> str:
    """The alternative line for Node programs when the node on PATH can read the OS store (the fix installs the CA
    there): ``NODE_USE_SYSTEM_CA=1`` on 22.19+/24.6+, else ``--use-system-ca`` on 22.15+/23.8+; "" otherwise."""
    from pytest_proxydiag.proof import node_rules

    version = node_rules.parse_version(node_version)
    if node_rules.supports(version, node_rules.USE_SYSTEM_CA_ENV):
        return say("node_system_ca_alt", node=node_version, export_lines=export_lines({"NODE_USE_SYSTEM_CA": "1"}))
    if node_rules.supports(version, node_rules.USE_SYSTEM_CA_FLAG):
        options = f"{env.get('NODE_OPTIONS') or ''} --use-system-ca".strip()
        return say("node_flag_alt", node=node_version, export_lines=export_lines({"NODE_OPTIONS": options}))
    return ""


def bedrock_user(a: Analysis, env: Mapping[str, str]) -> bool:
    """The target is a Bedrock endpoint, or Claude Code (or boto3's own CA setting) says Bedrock is in use."""
    boto3 = a.stores.get("boto3")
    return providers.provider_of(a.host) == "AWS Bedrock" or providers.uses_bedrock(env) or bool(
        boto3 is not None and boto3.relevant)


def vertex_user(a: Analysis, env: Mapping[str, str]) -> bool:
    """The target is a Vertex AI endpoint, or Claude Code says Vertex AI is in use."""
    return providers.provider_of(a.host) == "Vertex AI" or providers.uses_vertex(env)


def _intercepted(a: Analysis, base: dict, *, env, save: Save, disabled, machine, node_version=None) -> Verdict:
    saved = save(a)
    aws = bedrock_user(a, env)
    fix = compute_fix(saved, env, disabled=disabled, aws=aws)
    untrusted = {k: t for k, t in a.untrusted(relevant_only=False).items()
                 if t.relevant and (k in MAIN_CLIENTS or k == "litellm") or k == "boto3" and aws}
    ca_name = common_name(a.ca.subject) if a.ca is not None else base["issuer"]
    evidence = dict(ca_saved=saved.as_dict(), ca_source=a.ca_source, ca_name=ca_name)
    if machine is not None:
        evidence["machine"] = machine.as_dict()
    bc = [p for p in a.strict if "basicConstraints" in p]
    extra = (say("python313_rejects", problems="; ".join(a.strict)) if a.strict else "") \
        + machine_note(machine, a.ca, ca_name)
    values = dict(base, ca_name=ca_name, ca_path=saved.ca_path or say("not_available"),
                  bundle_path=saved.bundle_path or say("not_available"), node_ca_path=saved.node_ca_path or "",
                  reference_verdict=a.public.reason or say("not_public"),
                  untrusted=matrix_text(a.trust, untrusted) or say("none"), extra=extra,
                  cloud_note=say("aws_note") if aws else say("vertex_note") if vertex_user(a, env) else "",
                  node_system_ca=node_system_ca(node_version, env))
    if "claude-code" in untrusted and a.claude_would_trust_os_store():
        v = _claude_cert_store(a, untrusted, fix, saved, values)
    elif untrusted:
        der = node_der_trap(a)
        if der is not None and all(k in ("node", "claude-code") for k in untrusted):
            v = _der_trap(a, der, base, save)
        elif not a.ca_certs:
            # A product that sends only its leaf (mitmproxy): where its CA can be had instead.
            issuer_dn = a.missing_issuer or a.leaf.issuer
            hint = products.ca_hint(f"{issuer_dn} {values.get('issuer', '')}")
            v = fail("leaf_only", fix=dict(unset=fix["unset"], verified=None) if fix["unset"] else None,
                     issuer_dn=issuer_dn, **dict(values, extra=values["extra"] + hint))
        else:
            v = fail("intercepted", fix=dict(env=fix["env"], unset=fix["unset"], files=fix_files(saved),
                                             verified=None), export_lines=export_lines(fix["env"]), **values)
    elif bc:
        v = fail("bc_not_critical", ca_name=ca_name, strict="; ".join(a.strict),
                 first_strict=bc[0].split(": ", 1)[-1], python_hint=say("python_hint"))
    elif a.strict:
        # Trusted, yet Python 3.13+ (ssl.create_default_context, urllib3 2.3+) refuses the path: measured with a
        # real Squid, whose certificate for an upstream it cannot verify carries no Authority Key Identifier.
        v = fail("strict_rejected", ca_name=ca_name, strict="; ".join(a.strict),
                 first_strict=a.strict[0].split(": ", 1)[-1], python_hint=say("python_hint"))
    else:
        trusted = ", ".join(t.label for t in a.trust.values() if t.trusted and t.relevant)
        v = passed(say("intercepted_trusted", vendor_text=base["vendor_text"], leaf=base["leaf"],
                       issuer=base["issuer"], ca_name=ca_name, trusted=trusted, ca_path=saved.ca_path))
    v.evidence = {**evidence, **v.evidence}
    return v


def _claude_cert_store(a: Analysis, untrusted, fix, saved: SavedFiles, values) -> Verdict:
    """Claude Code was told (CLAUDE_CODE_CERT_STORE) not to read the OS store that holds the CA."""
    value, where = a.stores["claude-code"].claude.cert_store
    others = {k: t for k, t in untrusted.items() if k != "claude-code"}
    env = fix["env"] if any(k != "node" for k in others) else {"NODE_EXTRA_CA_CERTS": saved.ca_path}
    trusted_by = ", ".join(t.label for t in a.trust.values() if t.trusted and t.relevant) or ct_text("nobody", {})
    return fail("claude_cert_store", fix=dict(env=env, files=fix_files(saved), verified=None),
                **dict(values, trusted_by=trusted_by, where=where, export_lines=export_lines(env),
                       why=ct_text("cert_store_bundled", {"value": value, "where": where}),
                       claude_stores=a.stores["claude-code"].via,
                       also=ct_text("also_untrusted", {"untrusted": matrix_text(a.trust, others)}) if others else ""))


def _der_trap(a: Analysis, der: CAFile, base: dict, save: Save) -> Verdict:
    saved = save(a)
    pem = saved.node_ca_path if a.ca_certs else saved.converted.get(der.var)
    if not pem:
        saved = save(None, extra_ca=der.certs)
        pem = saved.ca_path
    env = {"NODE_EXTRA_CA_CERTS": pem}
    ca_name = common_name(der.certs[0].subject) if der.certs else say("the_ca")
    claude = a.stores.get("claude-code")
    consequence = say("der_consequence_ignored", version=claude.version) if claude is not None and \
        not claude.fatal_if_bad else say("der_consequence")
    return fail("der_trap", fix=dict(env=env, verified=None, files=fix_files(saved)), var=der.var, path=der.path,
                node_ca_path=pem, ca_name=ca_name, consequence=consequence, export_lines=export_lines(env),
                extra="", **{k: v for k, v in base.items() if k != "ca_name"})


def proxy_certificate(chain, proxy_host: str, proxy_hostport: str, trust: Mapping[str, ClientTrust],
                      info: Any) -> Verdict | None:
    """An https:// proxy's own certificate: valid for the proxy host, valid today, trusted by the clients."""
    problems = []
    if not hostname_matches(chain[0], proxy_host):
        problems.append(say("proxy_cert_for", names=", ".join(info.san) or info.subject, host=proxy_host))
    validity = validity_problem(chain[0])
    if validity:
        problems.append(say("proxy_cert_validity", validity=validity))
    distrust = [t.label for k, t in trust.items() if not t.trusted and k in MAIN_CLIENTS]
    if distrust:
        problems.append(say("proxy_cert_untrusted", clients=", ".join(distrust),
                            why=next(t.why for t in trust.values() if not t.trusted)))
    if not problems:
        return None
    return fail("proxy_cert", detail="; ".join(problems), proxy_host=proxy_host, proxy_hostport=proxy_hostport)


# -- step 2: verification switched off ----------------------------------------------------------------
def experiment_verdict(off_ok: bool, on_ok: bool, on_is_tls_error: bool) -> str:
    if off_ok and not on_ok and on_is_tls_error:
        return say("verdict_confirmed")
    return say("verdict_works") if off_ok and on_ok else say("verdict_either")


def verification_disabled(found: Sequence[Mapping[str, str]], experiments: Sequence[Mapping[str, str]], *,
                          env: Mapping[str, str], save: Save, intercepted: Analysis | None) -> Verdict:
    confirmed = [e for e in experiments if e["verdict"] == say("verdict_confirmed")]
    exp_text = say("experiment_intro", results="; ".join(say("experiment_confirmed", **e) for e in confirmed)) \
        if confirmed else ""
    if not found:
        return passed(say("verification_on") + ("; " + exp_text if confirmed else ""))
    unset = list(dict.fromkeys(d["var"] for d in found if d["var"] not in ("ssl_verify",)))
    env_fix: dict[str, str] = {}
    trust_advice = say("trust_see_interception")
    if intercepted is not None:
        fix = compute_fix(save(intercepted), env, disabled=found)
        env_fix = fix["env"]
        unset = [v for v in unset if v not in env_fix] + [v for v in fix["unset"] if v not in unset]
        trust_advice = say("trust_instead", export_lines=export_lines(env_fix))
    files = [{"path": d["file"], "change": say("file_remove", where=d["where"])} for d in found if d.get("file")]
    unset_lines = "\n".join(say("unset_line", var=v) for v in unset) or say("unset_none")
    unset_lines += "".join(say("remove_line", where=d["where"]) for d in found if d.get("file"))
    return fail("disabled", fix=dict(env=env_fix, unset=[v for v in unset if v not in env_fix], files=files,
                                     verified=None),
                where=", ".join(d["where"] for d in found), effects="; ".join(f"{d['where']}: {d['effect']}"
                                                                           for d in found),
                experiment=exp_text, unset_lines=unset_lines, trust_advice=trust_advice)


# -- step 3: Python's CA configuration --------------------------------------------------------------
def consequence(f: CAFile) -> str:
    key = f"consequence_{f.var}"
    return say(key) if key in TEXT else say("consequence_other")


def good_bundle(a: Analysis | None, public_roots: str | None, save: Save, extra=()) -> str:
    """The bundle to point a Python variable at: the combined one when there is a CA, else the public roots."""
    intercepted = a is not None and a.intercepted
    if intercepted and a.ca_certs or extra:
        return save(a if intercepted else None, extra_ca=extra).bundle_path
    if public_roots:
        return os.path.abspath(public_roots)
    return system_bundle()[0] or certifi_bundle() or "/etc/ssl/certs/ca-certificates.crt"


def python_files(files: Sequence[CAFile], a: Analysis | None, public: set, *, public_roots: str | None,
                 save: Save) -> Verdict | None:
    """A Python CA variable that points at something unusable, or at a bundle without the public roots."""
    for f in files:
        if f.ok:
            continue
        key = _FILE_FINDING.get(f.status, "unreadable")
        if key == "der":
            saved = save(a if a is not None and a.intercepted else None)
            converted = saved.converted.get(f.var) or say("not_written")
            fix_env = {f.var: converted}
            return fail("der", fix=dict(env=fix_env, verified=None, files=fix_files(saved)), var=f.var,
                        path=f.path, detail=f.detail, consequence=consequence(f), converted=converted,
                        export_lines=export_lines(fix_env))
        path = good_bundle(a, public_roots, save)
        fix_env = {f.var if f.var != "SSL_CERT_DIR" else "SSL_CERT_FILE": path}
        return fail(key, fix=dict(env=fix_env, unset=["SSL_CERT_DIR"] if f.var == "SSL_CERT_DIR" else [],
                                  verified=None),
                    var=f.var, path=f.path, detail=f.detail, consequence=consequence(f), var_or_python=f.var,
                    export_lines=export_lines(fix_env), good_path=path)
    for f in files:
        if f.var in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") and f.certs and \
                not any(c.fingerprint(_SHA256) in public for c in f.certs):
            fix_env = {f.var: good_bundle(a, public_roots, save, extra=f.certs)}
            return fail("corporate_only", fix=dict(env=fix_env, verified=None), var=f.var, path=f.path,
                        count=f.count, users=say(f"users_{f.var}"),
                        names=", ".join(f"'{common_name(c.subject)}'" for c in f.certs[:3]),
                        var_or_python=f.var, export_lines=export_lines(fix_env))
    return None


def python_connections(results: Mapping[str, Mapping[str, Any]], files: Sequence[CAFile], a: Analysis | None,
                       hostport: str, *, env: Mapping[str, str], public_roots: str | None, save: Save) -> Verdict:
    """The verified connections each Python client made with its own CA configuration."""
    failing = {k: r for k, r in results.items() if not r["ok"]}
    if not failing:
        return passed(say("python_verifies", target=hostport,
                          via="; ".join(sorted({r["via"] for r in results.values()}))))
    r = next(iter(failing.values()))
    if r.get("cause") not in (None, "tls_error"):
        return Verdict("blocked", "connectivity.proxy_works", summary=f"{r['via']}: {r['detail']}")
    if a is not None and a.intercepted and not files:
        return Verdict("blocked", "certificate.interception",
                       summary=say("python_blocked_intercepted", detail=r["detail"]))
    path = good_bundle(a, public_roots, save)
    var = next((f.var for f in files if f.var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")),
               "SSL_CERT_FILE")
    fix_env = {v: path for v in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}
    if env.get("CURL_CA_BUNDLE"):
        fix_env["CURL_CA_BUNDLE"] = path
    return fail("verify_failed", fix=dict(env=fix_env, unset=["SSL_CERT_DIR"] if env.get("SSL_CERT_DIR") else [],
                                          verified=None),
                via=f"{r['client']} ({r['via']})", detail=r["detail"], var_or_python=var,
                export_lines=export_lines(fix_env), good_path=path)
