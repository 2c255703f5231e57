"""Does a plain Node program use the proxy?  Asked of the real ``node``, for ``fetch()`` and ``https``.

The script runs each API once against the target, with the proxy variables of *env*.  It wraps
``dns.lookup``: a Node that goes direct must look the target's name up itself, so the attempt is
recorded there (and answered with the ``resolve`` pin when one is given: the lab's loopback origin, or
an address where nothing listens under ``--proxydiag-no-direct``, never a real DNS query), while a
Node that uses the proxy never looks the target up (the proxy resolves it).  Pointed at an
:class:`~pytest_proxydiag.net.relay.ObservedRelay`, the proxy side is proven by the CONNECT arriving.

Measured: Node 20.20 and 24.11 take 0.05-0.1 s per run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlsplit

from pytest_proxydiag.proof import node_rules
from pytest_proxydiag.proof.client_base import (KILL_GRACE, _fmt_seconds, _last_json_line, _spawn,
                                                client_env)

__all__ = ["NodeRun", "find_node", "node_version", "run_node_apis", "APIS"]

APIS = ("fetch", "https")

_SCRIPT = r"""
const dns = require('dns');
const a = JSON.parse(process.argv[process.argv.length - 1]);
const u = new URL(a.url);
const target = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
let direct = false;
const lookup = dns.lookup;
dns.lookup = function (host, opts, cb) {
  if (typeof opts === 'function') { cb = opts; opts = {}; }
  if (String(host).toLowerCase() === target) {
    direct = true;
    if (a.pin) {
      const family = a.pin.includes(':') ? 6 : 4;
      return process.nextTick(() => opts && opts.all ? cb(null, [{address: a.pin, family}]) : cb(null, a.pin, family));
    }
  }
  return lookup.call(dns, host, opts, cb);
};
const out = (o) => { process.stdout.write(JSON.stringify(Object.assign({api: a.api, direct}, o)) + '\n'); };
const timer = setTimeout(() => { out({error: 'no answer within ' + a.timeout + 's', code: 'timeout'}); process.exit(3); },
                         a.timeout * 1000);
const done = (o) => { clearTimeout(timer); out(o); };
const headers = {'content-type': 'application/json', 'x-api-key': a.key, 'anthropic-version': a.version};
if (a.api === 'fetch') {
  fetch(a.url, {method: 'POST', body: a.body, headers}).then(
    (r) => done({status: r.status}),
    (e) => { const c = e.cause || e; done({error: String(c.message || c), code: c.code || c.name}); });
} else {
  const req = require(u.protocol === 'https:' ? 'https' : 'http').request(u, {method: 'POST', headers}, (res) => {
    res.resume(); done({status: res.statusCode}); });
  req.on('error', (e) => done({error: e.message, code: e.code || e.name}));
  req.end(a.body);
}
"""


@dataclass
class NodeRun:
    """What one Node API did: ``direct`` (looked the target up itself), ``status`` or ``error``."""

    api: str
    direct: bool
    status: int | None = None
    error: str | None = None
    code: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def proxied(self) -> bool:
        return not self.direct and self.code != "unavailable"

    def as_dict(self) -> dict:
        out = {"api": self.api, "route": "direct" if self.direct else "proxy"}
        if self.status is not None:
            out["status"] = self.status
        if self.error:
            out["error"] = self.error[:300]
        return out


def find_node(env: Mapping[str, str]) -> str | None:
    """The ``node`` the user's programs run: the first on *env*'s ``PATH``."""
    return shutil.which("node", path=env.get("PATH") or os.defpath)


def node_version(node: str | None) -> tuple[int, int, int] | None:
    from pytest_proxydiag.machine.claude_install import node_version as version_text

    return node_rules.parse_version(version_text(node))


def run_node_apis(node: str, url: str, env: Mapping[str, str], timeout: float, *, pin: str | None = None,
                  apis: tuple[str, ...] = APIS) -> list[NodeRun]:
    """Run each of *apis* once with *node* against *url* (credentials stripped, see ``client_env``).

    *pin* is the address a direct attempt gets for the target's name (None: the system resolver).
    """
    from pytest_proxydiag.proof.client_base import ANTHROPIC_VERSION, DUMMY_API_KEY, REQUEST_BODY

    runs = []
    parts = urlsplit(url)
    full = url if parts.path not in ("", "/") else url.rstrip("/") + "/v1/messages"
    for api in apis:
        arg = json.dumps({"api": api, "url": full, "timeout": timeout, "key": DUMMY_API_KEY,
                          "version": ANTHROPIC_VERSION, "body": REQUEST_BODY, "pin": pin})
        with tempfile.TemporaryDirectory(prefix="proxydiag-node-") as workdir:
            proc = _spawn([node, "-e", _SCRIPT, arg], client_env(env), workdir, timeout + KILL_GRACE)
        result = _last_json_line(proc.stdout) or {}
        if proc.start_error or not result:
            why = proc.start_error or (proc.stderr.strip().splitlines() or [f"node exited with {proc.rc}"])[0]
            if proc.timed_out:
                why = f"no answer within {_fmt_seconds(timeout)}s; killed"
            runs.append(NodeRun(api, False, error=why[:300], code="unavailable"))
            continue
        status = result.get("status")
        runs.append(NodeRun(api, bool(result.get("direct")),
                            status if isinstance(status, int) else None,
                            None if isinstance(status, int) else str(result.get("error") or ""),
                            result.get("code")))
    return runs
