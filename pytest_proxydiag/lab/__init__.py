"""The proxy lab: real misconfigured proxies on loopback, started in a fraction of a second.

Most people who first meet pytest-proxydiag are not behind a broken proxy at
that moment.  The lab builds one for them — a real Squid with a generated
configuration, a local origin that answers like the providers, and the
certificates that go with them — so the diagnosis can be seen, tested and
benchmarked anywhere::

    from pytest_proxydiag.lab import Lab

    with Lab("ssl-bump-untrusted") as lab:
        # What the user's shell would hold in this situation.
        lab.env            # {"HTTPS_PROXY": "http://127.0.0.1:40123", "HTTP_PROXY": ...}
        # What to add to `pytest --proxydiag` so it checks the lab's origin.
        lab.pytest_args    # ["--proxydiag-target", "https://api.anthropic.com:40999", ...]
        lab.target_url     # https://api.anthropic.com:40999 (the name is mapped to 127.0.0.1)
        lab.proxy_requests()   # what Squid's access log has seen so far
    # stopped: processes killed, shared memory and temp files removed

:meth:`Lab.scenarios` lists every scenario with one line each; each
:class:`Scenario` also names the flowchart step the diagnosis must blame
(:attr:`Scenario.expected_root_cause`), which makes the lab the project's
regression corpus.

How it stays safe:

* Everything listens on 127.0.0.1 (or ::1) on free ports.  The provider names
  are mapped to 127.0.0.1 by Squid's ``hosts_file`` (and its
  ``dns_nameservers 127.0.0.1``), and by ``--proxydiag-resolve`` pins for the
  diagnosis, so nothing resolves or reaches a real provider.
* The lab never reads or changes the caller's environment or files: every
  file lives in a private temporary directory (mode 700) and :attr:`Lab.env`
  is a plain dict for the caller to hand to a subprocess.
* :meth:`Lab.stop` is instant and idempotent: SIGKILL to Squid's process
  group, removal of its ``/dev/shm/<name>-*`` segments and of the temporary
  directory.  Labs still running at interpreter exit are stopped by an
  ``atexit`` hook and Ctrl-C unwinds through the ``with`` block.  A process
  killed outright (SIGKILL) cannot clean up: the next lab that starts kills
  the orphaned Squid (its parent pid no longer matches the pid in its
  service name — as root, Squid's change of user clears ``PR_SET_PDEATHSIG``)
  and removes its shared memory and temp dirs (:func:`sweep_stale`).

Where Squid is missing, scenarios that proxy.py can play (open, Basic auth,
TLS interception, a blocked domain, upstream down) fall back to an in-process
proxy.py; the others raise :class:`LabUnavailable` with the command that
installs Squid on this OS.

Besides Squid, real tinyproxy, Apache httpd (mod_proxy), Privoxy, Dante and mitmproxy
play the same misconfigurations (``tinyproxy-wrong-password``, ``apache-upstream-down``,
``mitmproxy-intercept``...; see :mod:`pytest_proxydiag.lab.products`): a product that
is not installed raises :class:`LabUnavailable` with its install command.

The building blocks are public too, for tests that need an unusual setup:
:class:`Squid` (a private instance from a list of config lines, see
:func:`squid_config`), :class:`HttpsOrigin`, :class:`ScriptedProxy`,
:class:`Blackhole`, :class:`ClosedPort`, :class:`LabCA` and :class:`RealProxy`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pytest_proxydiag.lab.base import TMP_PREFIX, LabError, LabUnavailable, ipv6_loopback
from pytest_proxydiag.lab.base import write_private as _write
from pytest_proxydiag.lab.products import MISCONFIGS, PRODUCTS, RealProxy
from pytest_proxydiag.lab.proxypy import ProxyPyProxy
from pytest_proxydiag.lab.scenarios import (
    _BUMP,
    _MITM_TRUSTED,
    _SCENARIO_TABLE,
    _TRUSTED,
    BODY_LIMIT_MB,
    CLOUD_SCENARIOS,
    EXPECTED_ALSO_FAILED,
    EXPECTED_ROOT_CAUSE,
    PASSWORD,
    PRODUCT_SCENARIOS,
    PROXYPY_SCENARIOS,
    SLOW_ORIGIN_DELAY,
    SPECIAL_PASSWORD,
    SPECIAL_USER,
    USER,
    WRONG_PASSWORD,
    Scenario,
    _scenario,
)
from pytest_proxydiag.lab.servers import (
    HOSTILE_BEHAVIOURS,
    ORIGIN_HOSTS,
    PROVIDER_HOSTS,
    LOOPBACK_NAMES,
    Blackhole,
    ClosedPort,
    HttpsOrigin,
    LabCA,
    OriginRequest,
    ScriptedProxy,
    free_port,
    server_context,
)
from pytest_proxydiag.lab.squid import (
    ProxyRequest,
    Squid,
    _give_to_squid_user,
    _reachable_by_squid,
    _squid_user,
    find_squid,
    htpasswd_line,
    squid_config,
    squid_helper,
    squid_install_hint,
    sweep_stale,
)

__all__ = [
    "Lab",
    "LabError",
    "LabUnavailable",
    "Scenario",
    "ProxyRequest",
    "Squid",
    "ProxyPyProxy",
    "squid_config",
    "find_squid",
    "squid_install_hint",
    "htpasswd_line",
    "HttpsOrigin",
    "OriginRequest",
    "ScriptedProxy",
    "Blackhole",
    "ClosedPort",
    "LabCA",
    "EXPECTED_ROOT_CAUSE",
    "EXPECTED_ALSO_FAILED",
    "PROVIDER_HOSTS",
    "ORIGIN_HOSTS",
    "HOSTILE_BEHAVIOURS",
    "PROXYPY_SCENARIOS",
    "sweep_stale",
    "RealProxy",
    "PRODUCTS",
    "PRODUCT_SCENARIOS",
]


# -- the lab ---------------------------------------------------------------------------------------
_LIVE: set["Lab"] = set()
_LIVE_LOCK = threading.Lock()


def _stop_all() -> None:
    with _LIVE_LOCK:
        labs = list(_LIVE)
    for lab in labs:
        lab.stop()


atexit.register(_stop_all)


class Lab:
    """A scenario running on loopback: ``with Lab("ssl-bump-untrusted") as lab: ...``.

    ``backend`` forces "squid" or "proxy.py" (default: Squid when installed,
    else proxy.py where it can play the scenario).  ``workdir`` is where the
    private temporary directory is created (default: the system temp dir).
    """

    def __init__(self, name: str, workdir: Path | str | None = None, *, backend: str | None = None) -> None:
        if name not in _SCENARIO_TABLE:
            raise LabError(f"unknown scenario {name!r}; known: {', '.join(_SCENARIO_TABLE)}")
        if backend not in (None, "auto", "squid", "proxy.py"):
            raise LabError(f"unknown backend {backend!r}: use 'squid' or 'proxy.py'")
        self.name = name
        self._parent_dir = Path(workdir) if workdir else None
        self._backend_choice = None if backend == "auto" else backend
        self.info: Scenario = _scenario(name)
        self.workdir: Path | None = None
        self.env: dict[str, str] = {}
        self.pytest_args: list[str] = []
        self.proxy_url: str = ""
        self.proxy_port: int = 0
        #: Where a proxy really listens (differs from proxy_url in wrong-port), None when nothing listens.
        self.actual_proxy_url: str | None = None
        #: special-chars-password: the same proxy URL, password percent-encoded.
        self.correct_proxy_url: str | None = None
        self.target_url = ""
        self.origin_port = 0
        self.http_target_url = ""
        self.public_roots = ""
        self.interception_ca_pem: bytes | None = None
        self.interception_ca_path: str | None = None
        self.access_log: Path | None = None
        self.origin: HttpsOrigin | None = None
        self.squid: Squid | None = None
        #: The real product (tinyproxy, Apache, Privoxy, Dante, mitmproxy) of a product scenario.
        self.real_proxy: RealProxy | None = None
        self.startup_seconds: float | None = None
        self._parts: list[Any] = []
        self._extra_dirs: list[Path] = []
        self._started = False
        self._stopped = False
        self._lock = threading.Lock()

    # -- catalogue ------------------------------------------------------------------
    @classmethod
    def scenarios(cls) -> dict[str, str]:
        """Every scenario name with its one-line description."""
        return {name: desc for name, (_, desc) in _SCENARIO_TABLE.items()}

    @classmethod
    def scenario(cls, name: str) -> Scenario:
        """The :class:`Scenario` record of ``name`` (its default backend and expected diagnosis)."""
        if name not in _SCENARIO_TABLE:
            raise LabError(f"unknown scenario {name!r}")
        return _scenario(name)

    # -- lifecycle ---------------------------------------------------------------
    def __enter__(self) -> "Lab":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "Lab":
        if self._started:
            return self
        backend = self._choose_backend()
        self.info = replace(self.info, backend=backend)
        self._started = True
        t0 = time.monotonic()
        sweep_stale()
        with _LIVE_LOCK:
            _LIVE.add(self)
        try:
            parent = self._parent_dir or Path(tempfile.gettempdir())
            parent.mkdir(parents=True, exist_ok=True)
            self.workdir = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-{self.name}-", dir=parent))
            os.chmod(self.workdir, 0o700)
            self._start_parts(backend)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _choose_backend(self) -> str:
        default = _SCENARIO_TABLE[self.name][0]
        if default != "squid":
            if self._backend_choice not in (None, default):  # tinyproxy-* is tinyproxy: never silently not it
                raise LabError(f"scenario {self.name!r} is played by {default}, not {self._backend_choice}")
            return default
        if self._backend_choice == "proxy.py" or (self._backend_choice is None and not find_squid()):
            if self.name not in PROXYPY_SCENARIOS:
                why = "squid is not installed" if not find_squid() else "it needs Squid"
                raise LabUnavailable(f"scenario {self.name!r} cannot run: {why}, and proxy.py cannot play it. "
                                     f"Install squid with: {squid_install_hint()}")
            return "proxy.py"
        if not find_squid():
            raise LabUnavailable(f"scenario {self.name!r} needs squid, which is not installed. "
                                 f"Install it with: {squid_install_hint()}")
        return "squid"

    def stop(self) -> None:
        """Kill everything this lab started and remove its files.  Idempotent, returns at once."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        for part in reversed(self._parts):
            with contextlib.suppress(Exception):
                part.stop()
        self._parts = []
        for d in [self.workdir, *self._extra_dirs]:
            if d is not None:
                shutil.rmtree(d, ignore_errors=True)
        with _LIVE_LOCK:
            _LIVE.discard(self)

    @property
    def running(self) -> bool:
        return self._started and not self._stopped

    # -- observation ---------------------------------------------------------------
    def proxy_requests(self) -> list[ProxyRequest]:
        """What the proxy has logged so far (Squid only; [] for the other backends)."""
        return self.squid.requests() if self.squid is not None else []

    def origin_requests(self) -> list[OriginRequest]:
        """What the origin has seen so far (secret header values masked)."""
        return self.origin.requests if self.origin is not None else []

    def __repr__(self) -> str:
        state = "running" if self.running else ("stopped" if self._stopped else "new")
        return f"<Lab {self.name} {self.info.backend} {state} proxy={self.proxy_url or '-'}>"

    # -- building ----------------------------------------------------------------------
    def _own(self, part: Any) -> Any:
        self._parts.append(part)
        return part

    def _start_parts(self, backend: str) -> None:
        wd = self.workdir
        assert wd is not None
        name = self.name
        public = LabCA("Proxydiag Lab Public Roots", "Fake public root (lab only)")
        self.public_roots = str(_write(wd / "public-roots.pem", public.cert_pem, 0o644))
        origin = HttpsOrigin(public, wd / "origin")
        product, case = PRODUCT_SCENARIOS.get(name, (None, None))
        if name in ("slow-origin", "read-timeout") or case == "idle-timeout":
            origin.configure(delay=SLOW_ORIGIN_DELAY)
        if name == "rate-limited":
            origin.configure(status=429, status_headers={"retry-after": "30",
                                                         "anthropic-ratelimit-requests-remaining": "0"})
        self.origin = self._own(origin.start())
        self.origin_port = origin.port
        if name == "upstream-down" or case in ("upstream-down", "lazy-upstream-down"):
            self.origin_port = self._own(ClosedPort()).port
        #: The provider host the user's clients talk to (a Bedrock or Vertex AI endpoint in the cloud scenarios).
        self.target_host, cloud_env = CLOUD_SCENARIOS.get(name, ("api.anthropic.com", {}))
        self.target_url = f"https://{self.target_host}:{self.origin_port}"
        self.http_target_url = f"http://{self.target_host}:{origin.http_port}"

        corporate: LabCA | None = None
        if name in _BUMP:
            corporate = LabCA("Example Corp", "Proxy Inspection CA (lab only)")
            self.interception_ca_pem = corporate.cert_pem
            self.interception_ca_path = str(_write(wd / "corporate-ca.pem", corporate.cert_pem, 0o644))
            _write(wd / "corporate-ca.key", corporate.key_pem)

        extras: list[str] = []
        proxy_host = "127.0.0.1"
        user = password = None
        if backend == "squid":
            self.squid = self._start_squid(corporate)
            listen_url = self.squid.url
            proxy_host, port = self.squid.host, self.squid.port
            self.access_log = self.squid.access_log
        elif backend == "proxy.py":
            pp = ProxyPyProxy(wd, basic_auth=f"{USER}:{PASSWORD}" if name in ("basic-auth", "wrong-password")
                              else None, blocked=["api.anthropic.com"] if name == "blocked-domain" else (),
                              intercept=(wd / "corporate-ca.pem", wd / "corporate-ca.key", Path(self.public_roots))
                              if corporate else None)
            self._own(pp)
            pp.start()
            listen_url, port = pp.url, pp.port
        elif product is not None:
            real = self._own(RealProxy(product, credentials=(USER, PASSWORD) if case in (
                                           "wrong-password", "no-credentials", "auth-file-unreadable",
                                           "no-auth-forwarding") else None,
                                       blocked=["api.anthropic.com"] if case == "blocked-domain" else (),
                                       allowed=["github.com"] if case == "allow-list" else (),
                                       intercept=(case in ("intercept", "upstream-untrusted", "buffered")
                                                  or name in _MITM_TRUSTED),
                                       upstream_ca=None if case == "upstream-untrusted" else self.public_roots,
                                       parent_password=WRONG_PASSWORD if case in (
                                           "parent-wrong-password", "parent-no-via")
                                       else "" if case == "parent-no-credentials" else None,
                                       misconfig=case if case in MISCONFIGS.get(product, {}) else None))
            self.real_proxy = real.start()
            listen_url, port, proxy_host = real.url, real.port, real.host
            self.access_log = real.log_path
            if real.intercept:
                self.interception_ca_pem = real.ca_path.read_bytes()
                self.interception_ca_path = str(_write(wd / "corporate-ca.pem", self.interception_ca_pem, 0o644))
        elif name == "proxy-down":
            port = self._own(ClosedPort()).port
            listen_url = None
        elif name == "proxy-blackholed":
            port = self._own(Blackhole().start()).port
            listen_url = f"http://127.0.0.1:{port}"
            extras += ["--proxydiag-timeout", "2"]
        else:  # hostile-*
            behaviour = name.removeprefix("hostile-")
            ctx = None
            if behaviour == "tls-proxy":
                chain, key = public.issue("localhost", "127.0.0.1")
                ctx = server_context(chain, key, wd / "tls-proxy")
            sp = self._own(ScriptedProxy(behaviour, tls_context=ctx).start())
            port = sp.port
            listen_url = f"http://127.0.0.1:{port}"
            extras += ["--proxydiag-timeout", "2"]
        self.actual_proxy_url = listen_url

        scheme = PRODUCTS[product].scheme if product else "http"
        if case == "wrong-password":
            user, password = USER, WRONG_PASSWORD
        elif name in ("basic-auth",) or case in ("auth-file-unreadable", "no-auth-forwarding"):
            user, password = USER, PASSWORD
        elif name in ("wrong-password",):
            user, password = USER, WRONG_PASSWORD
        elif name == "hostile-407-loop":
            user, password = USER, PASSWORD
        elif name == "special-chars-password":
            user, password = SPECIAL_USER, SPECIAL_PASSWORD
        if name == "wrong-port":
            extras += ["--proxydiag-port-candidates", str(port)]
            port = self._own(ClosedPort()).port
        if name == "hostile-plain-for-https":
            scheme = "https"
        hostport = f"[{proxy_host}]:{port}" if ":" in proxy_host else f"{proxy_host}:{port}"
        creds = f"{user}:{password}@" if user else ""
        self.proxy_url = f"{scheme}://{creds}{hostport}"
        self.proxy_port = port
        if name == "special-chars-password":
            self.correct_proxy_url = f"{scheme}://{user}:{quote(password or '', safe='')}@{hostport}"

        env = {"HTTPS_PROXY": self.proxy_url, "HTTP_PROXY": self.proxy_url, **cloud_env}
        if name == "no-proxy-provider":
            env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1,.anthropic.com"
        if corporate is not None and (name in _TRUSTED or name == "der-ca"):
            bundle = _write(wd / "ca-bundle.pem", public.cert_pem + corporate.cert_pem, 0o644)
            for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
                env[var] = str(bundle)
            env["NODE_EXTRA_CA_CERTS"] = str(self.interception_ca_path)
            if name == "der-ca":
                env["NODE_EXTRA_CA_CERTS"] = str(_write(wd / "corporate-ca.cer", corporate.cert_der, 0o644))
        if name in _MITM_TRUSTED:  # the clients trust mitmproxy's CA
            bundle = _write(wd / "ca-bundle.pem", public.cert_pem + (self.interception_ca_pem or b""), 0o644)
            env.update({v: str(bundle) for v in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE",
                                                 "NODE_EXTRA_CA_CERTS")})
        self.env = env
        self.pytest_args = ["--proxydiag-target", self.target_url,
                            "--proxydiag-resolve", f"{self.target_host}:{self.origin_port}:127.0.0.1",
                            "--proxydiag-public-roots", self.public_roots, "--proxydiag-no-direct",
                            # Claude Code's other hosts (claude.ai, the npm registry...) are not mapped to
                            # loopback here; tests/test_claude_hosts.py checks them with a loopback-only Squid.
                            "--proxydiag-no-claude-hosts", *extras]

    def _start_squid(self, corporate: LabCA | None) -> Squid:
        wd = self.workdir
        assert wd is not None
        name = self.name
        if name == "ipv6-proxy" and not ipv6_loopback():
            raise LabUnavailable("scenario 'ipv6-proxy' needs the IPv6 loopback address ::1, "
                                 "which this machine (or container) does not have")
        if _reachable_by_squid(wd):
            sq_dir = wd / "squid"
            sq_dir.mkdir(mode=0o700)
        else:
            # Squid's user cannot enter the workdir (e.g. under pytest's mode-700 tmp dirs):
            # give it a private directory of its own in a temp dir it can reach.
            parents = [p for p in dict.fromkeys([tempfile.gettempdir(), "/tmp", "/var/tmp"])
                       if os.path.isdir(p) and _reachable_by_squid(Path(p) / "x")]
            if not parents:
                raise LabError("Squid drops to its own user, which can enter neither the lab's directory nor "
                               "/tmp; pass Lab(..., workdir=<a directory that user can reach>)")
            sq_dir = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-{name}-squid-", dir=parents[0]))
            self._extra_dirs.append(sq_dir)
        origin_ca = _write(sq_dir / "origin-ca.pem", Path(self.public_roots).read_bytes(), 0o644)
        hosts = _write(sq_dir / "hosts", "".join(f"127.0.0.1 {h}\n" for h in LOOPBACK_NAMES), 0o644)
        rules: list[str] = []
        access: list[str] = []
        port_options = ""
        if name in ("basic-auth", "wrong-password", "special-chars-password"):
            entries = [htpasswd_line(USER, PASSWORD), htpasswd_line(SPECIAL_USER, SPECIAL_PASSWORD)]
            htpasswd = _write(sq_dir / "htpasswd", "\n".join(entries) + "\n")
            rules += [f"auth_param basic program {squid_helper('basic_ncsa_auth')} {htpasswd}",
                      "auth_param basic children 2 startup=1 idle=1",
                      "auth_param basic realm proxydiag lab",
                      "acl authed proxy_auth REQUIRED"]
            access.append("http_access deny !authed")
        if name == "ntlm-only":
            helper = _write(sq_dir / "negotiate-bh.sh",
                            "#!/bin/sh\n# A Negotiate helper that cannot do Kerberos: answers BH to everything.\n"
                            "while read line; do echo 'BH no Kerberos in the lab'; done\n", 0o755)
            rules += [f"auth_param negotiate program {helper}",
                      "auth_param negotiate children 1 startup=1 idle=1",
                      f"auth_param ntlm program {squid_helper('ntlm_fake_auth')}",
                      "auth_param ntlm children 1 startup=1 idle=1",
                      "acl authed proxy_auth REQUIRED"]
            access.append("http_access deny !authed")
        if name == "reset-domain":
            rules += ["acl provider dstdomain api.anthropic.com", "deny_info TCP_RESET provider"]
            access.append("http_access deny provider")
        if name in ("blocked-domain", "block-page"):
            rules.append("acl provider dstdomain api.anthropic.com")
            # blocked-domain refuses the CONNECT; block-page lets the tunnel through and denies
            # the requests Squid sees inside it once it has bumped TLS.
            access.append("http_access deny provider" if name == "blocked-domain"
                          else "http_access deny !CONNECT provider")
        if name == "connect-denied":
            access.append("http_access deny CONNECT")
        if name == "read-timeout":
            rules.append("read_timeout 1 seconds")
        if name == "ssl-ports":
            rules.append("acl SSL_ports port 443")
            access.append("http_access deny CONNECT !SSL_ports")
        if name == "body-limit":
            rules.append(f"request_body_max_size {BODY_LIMIT_MB} MB")
        if name == "upstream-down":
            rules.append("connect_timeout 2 seconds")
        if corporate is not None:
            ca_cert = _write(sq_dir / "bump-ca.pem", corporate.cert_pem)
            ca_key = _write(sq_dir / "bump-ca.key", corporate.key_pem)
            ssl_db = sq_dir / "ssl_db"
            certgen = squid_helper("security_file_certgen")
            made = subprocess.run([certgen, "-c", "-s", str(ssl_db), "-M", "4MB"], capture_output=True, timeout=10)
            if made.returncode:
                raise LabError(f"security_file_certgen -c failed: {made.stderr.decode(errors='replace')[-500:]}")
            port_options = (f"ssl-bump tls-cert={ca_cert} tls-key={ca_key} generate-host-certificates=on "
                            "dynamic_cert_mem_cache_size=4MB")
            rules += [f"sslcrtd_program {certgen} -s {ssl_db} -M 4MB",
                      "sslcrtd_children 2 startup=1 idle=1",
                      # squid-upstream-untrusted: Squid's own store lacks the provider's root (not the clients').
                      *([] if name == "upstream-untrusted" else [f"tls_outgoing_options cafile={origin_ca}"]),
                      "acl step1 at_step SslBump1",
                      "ssl_bump peek step1",
                      # sni-refused: the name in the ClientHello refused, every other name spliced (not bumped).
                      *(["acl refused_sni ssl::server_name api.anthropic.com", "ssl_bump terminate refused_sni",
                         "ssl_bump splice all"] if name == "sni-refused" else ["ssl_bump bump all"])]
        if name == "client-refused":
            # The stock localnet ACL without this machine's network: 403 ERR_ACCESS_DENIED to every request.
            rules.append("acl localnet src 192.0.2.0/24")
            access.append("http_access allow localnet")
        else:
            access.append("http_access allow localhost")
        access.append("http_access deny all")
        host = "::1" if name == "ipv6-proxy" else "127.0.0.1"
        # Squid drops to its own user: it must own its directory (and enter the workdir it lives in).
        _give_to_squid_user(sq_dir)
        if sq_dir.parent == wd:
            ids = _squid_user()
            if ids:
                os.chown(wd, *ids)
        last_error: LabError | None = None
        for _attempt in range(3):
            port = free_port(host)
            lines = squid_config(sq_dir, port, host=host, port_options=port_options, rules=rules, access=access,
                                 hosts_file=hosts)
            squid = self._own(Squid(lines, sq_dir, port, host=host))
            try:
                return squid.start()
            except LabError as exc:
                # Another process may have taken the port between free_port() and Squid's bind.
                last_error = exc
                if "Address already in use" not in str(exc) and "bind" not in str(exc).lower():
                    raise
        assert last_error is not None
        raise last_error
