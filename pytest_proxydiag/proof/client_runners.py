"""The runners of curl, requests, httpx and node: one check request each, in a bounded child process."""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Mapping

from pytest_proxydiag.proof.client_base import (KILL_GRACE, OUTPUT_LIMIT, ClientInfo, _fmt_seconds, _first_line,
                                                _last_json_line, _Proc, _proxy_configured, _read_bounded,
                                                _Request, _spawn)

from pytest_proxydiag.proof import node_rules

def _run_curl(info: ClientInfo, req: "_Request") -> tuple[list[str], _Proc, dict]:
    body_path = os.path.join(req.workdir, "body")
    head_path = os.path.join(req.workdir, "headers")
    cmd = [info.path or "curl", "-sS", "-o", body_path, "-D", head_path, "-w", "%{http_code}",
           "--max-time", _fmt_seconds(req.timeout), "-X", req.method]
    for name, value in req.headers.items():
        cmd += ["-H", f"{name}: {value}"]
    if req.method not in ("GET", "HEAD"):
        cmd += ["--data-binary", req.body]
    # Pins matter only where curl resolves the name itself (direct); through a proxy the
    # proxy resolves the target and curl ignores these entries.
    for (host, port), addr in req.resolve.items():
        cmd += ["--resolve", f"{host}:{port}:{addr}"]
    cmd.append(req.full_url)
    proc = _spawn(cmd, req.env, req.workdir, req.timeout + KILL_GRACE)
    # For the report: the same request, ready to paste (no private temp paths).
    display = [c for c in cmd if c != "-D" and c != head_path]
    display[display.index(body_path)] = "/dev/null"
    result: dict = {}
    code = (proc.stdout.strip() or "000")[-3:]
    headers = _parse_header_block(_read_bounded(head_path))
    if proc.rc == 0 and code.isdigit() and code != "000":
        result["status"] = int(code)
        result["headers"] = headers
    elif proc.rc is not None and not proc.timed_out:
        line = _first_line(proc.stderr)
        result["error"] = re.sub(r"^curl: \(\d+\)\s*", "", line) or f"curl exited with {proc.rc}"
        result["error_code"] = str(proc.rc)
    return display, proc, result


def _parse_header_block(text: str) -> dict[str, str]:
    # With a proxy, -D holds the CONNECT reply first; the last block is the target's.
    blocks = [b for b in re.split(r"\r?\n\r?\n", text) if b.strip()]
    headers: dict[str, str] = {}
    if blocks:
        for line in blocks[-1].splitlines()[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip()] = v.strip()
    return headers


#: The start of every Python client script: its argument, the resolve pins applied to getaddrinfo, out().
PY_PRELUDE = r"""
import json, socket, sys
a = json.loads(sys.argv[1])
pins = {(h, int(p)): addr for h, p, addr in a["resolve"]}
if pins:
    _gai = socket.getaddrinfo
    def _pinned(host, port, *args, **kw):
        h = host.decode() if isinstance(host, bytes) else host
        try:
            p = int(port)
        except (TypeError, ValueError):
            p = port
        return _gai(pins.get((h, p), host), port, *args, **kw)
    socket.getaddrinfo = _pinned
def out(**kw):
    sys.stdout.write(json.dumps(kw) + "\n"); sys.stdout.flush()
"""

_PY_CLIENT = PY_PRELUDE + r"""
headers = a["headers"]
body = a["body"].encode() if a["method"] not in ("GET", "HEAD") else None
try:
    if a["client"] == "requests":
        import requests
        with requests.Session() as s:
            r = s.request(a["method"], a["url"], data=body, headers=headers, timeout=(a["timeout"], a["timeout"]),
                          allow_redirects=False)
    else:
        import httpx
        with httpx.Client(trust_env=True, timeout=a["timeout"], follow_redirects=False) as c:
            r = c.request(a["method"], a["url"], content=body, headers=headers)
    out(status=r.status_code, headers=dict(r.headers))
except Exception as e:
    out(error=str(e) or repr(e), error_code=type(e).__name__)
import os
os._exit(0)  # the answer is written (out() flushes): skip tearing down the client library's modules
"""


def _run_python(info: ClientInfo, req: "_Request") -> tuple[list[str], _Proc, dict]:
    arg = json.dumps({"client": info.name, "url": req.full_url, "method": req.method, "timeout": req.timeout,
                      "headers": req.headers, "body": req.body,
                      "resolve": [[h, p, a] for (h, p), a in req.resolve.items()]})
    cmd = [sys.executable, "-c", _PY_CLIENT, arg]
    proc = _spawn(cmd, req.env, req.workdir, req.timeout + KILL_GRACE)
    display = [sys.executable, "-c", f"<{info.name} {req.method} script>", req.full_url]
    return display, proc, _last_json_line(proc.stdout) or {}


_NODE_CLIENT = r"""
const a = JSON.parse(process.argv[1]);
const u = new URL(a.url);
const mod = require(u.protocol === 'https:' ? 'https' : 'http');
const out = (o) => { process.stdout.write(JSON.stringify(o) + '\n'); };
const opts = {method: a.method, timeout: a.timeout * 1000, headers: a.headers};
const port = u.port ? Number(u.port) : (u.protocol === 'https:' ? 443 : 80);
const pin = a.resolve[u.hostname + ':' + port];
if (pin) {
  const family = pin.includes(':') ? 6 : 4;
  opts.lookup = (hostname, options, cb) => options && options.all
    ? cb(null, [{address: pin, family}]) : cb(null, pin, family);
}
let done = false;
const finish = (o) => { if (!done) { done = true; out(o); } };
const req = mod.request(u, opts, (res) => {
  res.resume();
  finish({status: res.statusCode, headers: res.headers});
});
req.on('timeout', () => { const e = new Error('request timed out after ' + a.timeout + 's'); e.code = 'ETIMEDOUT'; req.destroy(e); });
req.on('error', (e) => finish({error: e.message, error_code: e.code || e.name}));
if (a.method !== 'GET' && a.method !== 'HEAD') req.write(a.body);
req.end();
"""


def _run_node(info: ClientInfo, req: "_Request") -> tuple[list[str], _Proc, dict]:
    arg = json.dumps({"url": req.full_url, "method": req.method, "timeout": req.timeout, "headers": req.headers,
                      "body": req.body,
                      "resolve": {f"{h}:{p}": a for (h, p), a in req.resolve.items()}})
    cmd = [info.path or "node", "-e", _NODE_CLIENT, arg]
    proc = _spawn(cmd, req.env, req.workdir, req.timeout + KILL_GRACE)
    display = [info.path or "node", "-e", f"<https.request {req.method} script>", req.full_url]
    result = _last_json_line(proc.stdout) or {}
    notes = []
    proxy_var = _proxy_configured(req.env, req.scheme)
    rules = node_rules.env_proxy(node_rules.parse_version(info.version), req.env)
    if proxy_var and not rules.https:
        notes.append(f"Node {info.version or ''}'s {req.scheme} module does not read {proxy_var} here: a plain "
                     f"Node program goes direct (Node {node_rules.FIX_VERSION}+ honour it with NODE_USE_ENV_PROXY=1)")
    extra_ca = _node_extra_ca_problem(req.env)
    if extra_ca:
        notes.append(f"Node ignores NODE_EXTRA_CA_CERTS: {extra_ca}")
    if notes:
        result["note"] = "; ".join(notes)
    return display, proc, result


def _node_extra_ca_problem(env: Mapping[str, str]) -> str | None:
    """Why the NODE_EXTRA_CA_CERTS file cannot work (Node and Claude Code read PEM only), or None."""
    path = env.get("NODE_EXTRA_CA_CERTS")
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(OUTPUT_LIMIT)
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror or exc})"
    if b"-----BEGIN CERTIFICATE-----" in head:
        return None
    if head[:1] == b"\x30":
        return f"{path} is DER, not PEM"
    return f"{path} holds no PEM certificate"


