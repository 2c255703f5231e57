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

The building blocks are public too, for tests that need an unusual setup:
:class:`Squid` (a private instance from a list of config lines, see
:func:`squid_config`), :class:`HttpsOrigin`, :class:`ScriptedProxy`,
:class:`Blackhole`, :class:`ClosedPort` and :class:`LabCA`.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import hashlib
import itertools
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import quote

from pytest_proxydiag.lab.servers import (
    HOSTILE_BEHAVIOURS,
    ORIGIN_HOSTS,
    PROVIDER_HOSTS,
    Blackhole,
    ClosedPort,
    HttpsOrigin,
    LabCA,
    OriginRequest,
    ScriptedProxy,
    free_port,
    server_context,
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
    "PROVIDER_HOSTS",
    "ORIGIN_HOSTS",
    "HOSTILE_BEHAVIOURS",
    "PROXYPY_SCENARIOS",
    "sweep_stale",
]


class LabError(RuntimeError):
    """The lab could not start (the message says what failed and shows the proxy's log tail)."""


class LabUnavailable(LabError):
    """This scenario cannot run on this machine (e.g. Squid is not installed); the message says how to fix it."""


# -- the scenarios -------------------------------------------------------------------------
#: The step the diagnosis must blame for each scenario (None: a healthy setup).
#: Data, kept in one table so the people who own the steps can adjust it.
EXPECTED_ROOT_CAUSE: dict[str, str | None] = {
    "healthy": None,
    "basic-auth": None,
    "wrong-password": "auth.credentials",
    "special-chars-password": "auth.special_chars",
    "ntlm-only": "auth.scheme",
    "proxy-down": "connectivity.proxy_reachable",
    "proxy-blackholed": "connectivity.proxy_reachable",
    "wrong-port": "connectivity.proxy_port",
    "blocked-domain": "policy.domain_allowed",
    "block-page": "policy.url_filtering",
    "ssl-bump-untrusted": "certificate.interception",
    "ssl-bump-trusted": None,
    "der-ca": "certificate.interception",
    "body-limit": "policy.payload_size",
    "upstream-down": "connectivity.proxy_works",
    "no-proxy-provider": "connectivity.no_proxy",
    "slow-origin": "performance.latency",
    "rate-limited": "performance.rate_limit",
    "hostile-silent": "connectivity.proxy_works",
    "hostile-garbage": "connectivity.proxy_works",
    "hostile-ssh-banner": "connectivity.proxy_works",
    "hostile-smtp-banner": "connectivity.proxy_works",
    "hostile-http09": "connectivity.proxy_works",
    "hostile-slowloris": "connectivity.proxy_works",
    "hostile-huge-header": "connectivity.proxy_works",
    "hostile-close": "connectivity.proxy_works",
    "hostile-tls-reset": "connectivity.proxy_works",
    "hostile-plaintext-tunnel": "connectivity.proxy_works",
    "hostile-407-loop": "auth.credentials",
    "hostile-redirect": "connectivity.proxy_works",
    "hostile-tls-proxy": "connectivity.proxy_works",
    "hostile-plain-for-https": "connectivity.proxy_works",
    "ipv6-proxy": None,
}
#: Steps that must fail besides the root cause (default: just the root cause).
EXPECTED_ALSO_FAILED: dict[str, frozenset[str]] = {}

# name -> (backend, description)
_SCENARIO_TABLE: dict[str, tuple[str, str]] = {
    "healthy": ("squid", "an open Squid that forwards everything: no finding expected"),
    "basic-auth": ("squid", "Squid with Basic auth; HTTPS_PROXY carries the right credentials"),
    "wrong-password": ("squid", "Squid with Basic auth; HTTPS_PROXY carries a wrong password (407)"),
    "special-chars-password": ("squid", "the proxy password holds @ : / ? # and HTTPS_PROXY has it unencoded"),
    "ntlm-only": ("squid", "Squid asks for NTLM or Negotiate only: no Basic to fall back on"),
    "proxy-down": ("none", "HTTPS_PROXY points at a closed port: connection refused"),
    "proxy-blackholed": ("scripted", "HTTPS_PROXY points at a port that drops SYNs: connect times out"),
    "wrong-port": ("squid", "Squid listens on one port, HTTPS_PROXY names another"),
    "blocked-domain": ("squid", "Squid denies CONNECT to api.anthropic.com (403 ERR_ACCESS_DENIED)"),
    "block-page": ("squid", "TLS inspection (CA trusted) with a URL filter: Squid's 403 block page inside TLS"),
    "ssl-bump-untrusted": ("squid", "TLS inspection by Squid; its corporate CA is not trusted by the clients"),
    "ssl-bump-trusted": ("squid", "TLS inspection with the corporate CA in every client's CA variable"),
    "der-ca": ("squid", "TLS inspection; NODE_EXTRA_CA_CERTS points at the CA in DER instead of PEM"),
    "body-limit": ("squid", "TLS inspection (CA trusted) with request_body_max_size 1 MB (413 above)"),
    "upstream-down": ("squid", "Squid works but the provider's port is closed (503 ERR_CONNECT_FAIL)"),
    "no-proxy-provider": ("squid", "a healthy Squid, but NO_PROXY lists .anthropic.com: traffic goes direct"),
    "slow-origin": ("squid", "a healthy Squid in front of a provider that takes 2.5 s per answer"),
    "rate-limited": ("squid", "the provider answers 429 with retry-after: 30"),
    "hostile-plain-for-https": ("squid", "HTTPS_PROXY says https:// but the proxy speaks plain HTTP"),
    "ipv6-proxy": ("squid", "a healthy Squid listening on [::1] only"),
}
for _behaviour, _text in HOSTILE_BEHAVIOURS.items():
    if _behaviour != "relay":
        _SCENARIO_TABLE["hostile-" + _behaviour] = ("scripted", "a scripted proxy that " + _text)
_SCENARIO_TABLE["hostile-tls-proxy"] = ("scripted", "the proxy port speaks TLS while HTTPS_PROXY says http://")
_SCENARIO_TABLE["hostile-407-loop"] = ("scripted", "the proxy answers 407 even to correct credentials")

#: Scenarios proxy.py can play where Squid is missing.
PROXYPY_SCENARIOS = frozenset({"healthy", "basic-auth", "wrong-password", "ssl-bump-untrusted", "blocked-domain",
                               "upstream-down"})
_BUMP = frozenset({"block-page", "ssl-bump-untrusted", "ssl-bump-trusted", "der-ca", "body-limit"})
_TRUSTED = frozenset({"block-page", "ssl-bump-trusted", "body-limit"})

USER, PASSWORD, WRONG_PASSWORD = "alice", "lab-secret-7", "not-the-password"
SPECIAL_USER, SPECIAL_PASSWORD = "bob", "p@ss:w/rd#1?"
SLOW_ORIGIN_DELAY = 2.5
BODY_LIMIT_MB = 1


@dataclass(frozen=True)
class Scenario:
    """One lab scenario and the diagnosis it must produce."""

    name: str
    description: str
    backend: str  # "squid" | "proxy.py" | "scripted" | "none"
    expected_root_cause: str | None
    expected_failed: frozenset[str] = field(default_factory=frozenset)


def _scenario(name: str) -> Scenario:
    backend, description = _SCENARIO_TABLE[name]
    root = EXPECTED_ROOT_CAUSE.get(name)
    failed = EXPECTED_ALSO_FAILED.get(name, frozenset()) | ({root} if root else set())
    return Scenario(name, description, backend, root, frozenset(failed))


@dataclass(frozen=True)
class ProxyRequest:
    """One line of Squid's access log (native ``squid`` format)."""

    time: float
    elapsed_ms: int
    client: str
    squid_code: str  # e.g. TCP_TUNNEL, TCP_DENIED, NONE_NONE
    status: int
    bytes: int
    method: str
    url: str  # host:port for CONNECT
    user: str
    hierarchy: str
    content_type: str

    @classmethod
    def parse(cls, line: str) -> "ProxyRequest | None":
        f = line.split()
        if len(f) < 10:
            return None
        code, _, status = f[3].partition("/")
        try:
            return cls(float(f[0]), int(f[1]), f[2], code, int(status or 0), int(f[4]), f[5], f[6], f[7], f[8],
                       f[9] if len(f) > 9 else "-")
        except ValueError:
            return None


# -- Squid --------------------------------------------------------------------------------------
_INSTANCE_COUNTER = itertools.count(1)
_NAME_PREFIX = "proxydiaglab"  # Squid's -n takes alphanumerics only
_TMP_PREFIX = "proxydiag-lab-"


def find_squid() -> str | None:
    """Path of the squid binary, or None."""
    found = shutil.which("squid")
    if found:
        return found
    for candidate in ("/usr/sbin/squid", "/usr/local/sbin/squid", "/opt/homebrew/sbin/squid"):
        if os.path.exists(candidate):
            return candidate
    return None


def squid_helper(name: str, squid: str | None = None) -> str:
    """Path of a Squid helper program (``basic_ncsa_auth``, ``security_file_certgen``...)."""
    squid = squid or find_squid() or "/usr/sbin/squid"
    prefix = Path(os.path.realpath(squid)).parent.parent
    for d in ("lib/squid", "lib64/squid", "libexec/squid", "libexec", "lib/squid3"):
        path = prefix / d / name
        if path.exists():
            return str(path)
    for d in ("/usr/lib/squid", "/usr/lib64/squid", "/usr/libexec/squid"):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    raise LabUnavailable(f"the Squid helper {name} is not installed next to {squid}")


def squid_install_hint(platform_name: str | None = None, os_release: str | None = None) -> str:
    """The command that installs Squid (with TLS inspection support) on this OS.

    ``platform_name`` (default ``sys.platform``) and ``os_release`` (default
    the text of ``/etc/os-release``) exist for tests.
    """
    platform_name = platform_name or sys.platform
    if platform_name == "darwin":
        return "brew install squid"
    if platform_name.startswith("win"):
        return "Squid is not packaged for Windows; run the lab in WSL (sudo apt-get install squid-openssl)"
    if os_release is None:
        try:
            os_release = Path("/etc/os-release").read_text()
        except OSError:
            os_release = ""
    ids = ""
    for line in os_release.splitlines():
        if line.startswith(("ID=", "ID_LIKE=")):
            ids += " " + line.partition("=")[2].strip('"').lower()
    if any(x in ids for x in ("debian", "ubuntu")):
        return "sudo apt-get install squid-openssl"
    if any(x in ids for x in ("fedora", "rhel", "centos", "rocky", "alma")):
        return "sudo dnf install squid"
    if "suse" in ids:
        return "sudo zypper install squid"
    if "alpine" in ids:
        return "sudo apk add squid"
    return "sudo apt-get install squid-openssl  (Debian/Ubuntu) or sudo dnf install squid  (Fedora/RHEL)"


_APR_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def htpasswd_line(user: str, password: str, salt: str | None = None) -> str:
    """An htpasswd entry (Apache ``$apr1$`` MD5, what ``openssl passwd -apr1`` makes) for basic_ncsa_auth."""
    salt = salt or "".join(secrets.choice(_APR_ITOA64) for _ in range(8))
    pw, salt_b = password.encode(), salt.encode()[:8]
    alt = hashlib.md5(pw + salt_b + pw).digest()
    ctx = pw + b"$apr1$" + salt_b + (alt * (len(pw) // 16 + 1))[: len(pw)]
    i = len(pw)
    while i:
        ctx += b"\0" if i & 1 else pw[:1]
        i >>= 1
    final = hashlib.md5(ctx).digest()
    for i in range(1000):
        final = hashlib.md5((pw if i & 1 else final) + (salt_b if i % 3 else b"") + (pw if i % 7 else b"")
                            + (final if i & 1 else pw)).digest()
    out = ""
    for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)):
        v = (final[a] << 16) | (final[b] << 8) | final[c]
        for _ in range(4):
            out += _APR_ITOA64[v & 0x3F]
            v >>= 6
    v = final[11]
    for _ in range(2):
        out += _APR_ITOA64[v & 0x3F]
        v >>= 6
    return f"{user}:$apr1${salt}${out}"


def squid_config(directory: Path | str, port: int, *, host: str = "127.0.0.1", port_options: str = "",
                 rules: Iterable[str] = (), access: Iterable[str] | None = None,
                 hosts_file: Path | str | None = None) -> list[str]:
    """A private Squid configuration that never leaves loopback.

    ``rules`` go before the ``http_access`` lines (auth_param, acl, ssl_bump,
    request_body_max_size...); ``access`` replaces the default
    ``allow localhost`` / ``deny all`` pair.  No cache directory (so no
    ``squid -z``), no ICP/HTCP, no pinger, and ``shutdown_lifetime 0``.
    """
    d = Path(directory)
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [
        f"http_port {listen} {port_options}".rstrip(),
        f"pid_filename {d / 'squid.pid'}",
        f"cache_log {d / 'cache.log'}",
        f"access_log stdio:{d / 'access.log'} squid",
        "cache_store_log none",
        "logfile_rotate 0",
        "cache deny all",
        "cache_mem 8 MB",
        "dns_nameservers 127.0.0.1",
        # A name the lab does not map fails within a second (ERR_DNS_FAIL), as behind a real proxy.
        "dns_timeout 1 seconds",
        "dns_retransmit_interval 1 seconds",
        "pinger_enable off",
        "netdb_filename none",
        "icp_port 0",
        "htcp_port 0",
        "snmp_port 0",
        "shutdown_lifetime 0 seconds",
        "coredump_dir none",
        "acl CONNECT method CONNECT",
    ]
    if hosts_file:
        lines.append(f"hosts_file {hosts_file}")
    lines += list(rules)
    lines += list(access) if access is not None else ["http_access allow localhost", "http_access deny all"]
    return lines


def _pdeathsig() -> Any:
    """A preexec function making the child die with this thread (Linux), resolved before fork."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    return preexec


class Squid:
    """A private Squid instance: ``Squid(lines, directory, port).start()`` ... ``.stop()``.

    ``lines`` is the whole configuration (see :func:`squid_config`);
    ``port``/``host`` are where it listens (readiness is polled there).  It runs
    in the foreground (``-N``) under a unique service name (``-n``) in its own
    process group; started as root it drops to ``cache_effective_user``
    (``proxy`` on Debian), so ``directory`` is handed to that user first.
    """

    def __init__(self, lines: Sequence[str], directory: Path | str, port: int, *, host: str = "127.0.0.1",
                 binary: str | None = None, name: str | None = None) -> None:
        self.lines = list(lines)
        self.directory = Path(directory)
        self.port = port
        self.host = host
        self.binary = binary or find_squid()
        if not self.binary:
            raise LabUnavailable(f"squid is not installed; install it with: {squid_install_hint()}")
        self.name = name or f"{_NAME_PREFIX}{os.getpid()}n{next(_INSTANCE_COUNTER)}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None

    @property
    def url(self) -> str:
        return f"http://[{self.host}]:{self.port}" if ":" in self.host else f"http://{self.host}:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.directory / "access.log"

    @property
    def cache_log(self) -> Path:
        return self.directory / "cache.log"

    def requests(self) -> list[ProxyRequest]:
        """Access-log lines so far (Squid logs a CONNECT when its tunnel closes)."""
        try:
            text = self.access_log.read_text(errors="replace")
        except OSError:
            return []
        return [r for r in map(ProxyRequest.parse, text.splitlines()) if r is not None]

    def log_tail(self, lines: int = 15) -> str:
        out = []
        for path in (self.cache_log, self.directory / "squid.stderr"):
            with contextlib.suppress(OSError):
                out += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out[-lines:])

    def start(self, timeout: float = 5.0) -> "Squid":
        if not _reachable_by_squid(self.directory):
            raise LabError(f"Squid drops to its own user, which cannot enter {self.directory} (a parent "
                           "directory is private); use a directory under the system temp dir")
        conf = self.directory / "squid.conf"
        conf.write_text("\n".join(self.lines) + "\n")
        _give_to_squid_user(self.directory)
        t0 = time.monotonic()
        with open(self.directory / "squid.stderr", "wb") as err:
            self.proc = subprocess.Popen(
                [self.binary, "-N", "-n", self.name, "-f", str(conf)],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err, cwd=self.directory,
                env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LC_ALL": "C"},
                start_new_session=True, preexec_fn=_pdeathsig(), close_fds=True,
            )
        # Ready = Squid logged that it accepts on the port.  Polling the log, not the port, keeps
        # the access log free of our probe connections ("error:transaction-end-before-headers").
        while True:
            status = self.proc.poll()
            if status is not None:
                tail = self.log_tail()
                self.stop()
                raise LabError(f"squid exited with status {status} at start:\n{tail}")
            with contextlib.suppress(OSError):
                if "Socket connections at" in self.cache_log.read_text(errors="replace"):
                    break
            if time.monotonic() - t0 > timeout:
                tail = self.log_tail()
                self.stop()
                raise LabError(f"squid did not accept on {self.host}:{self.port} within {timeout:g} s:\n{tail}")
            time.sleep(0.005)
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(2)
        _remove_shm(self.name)

    def __enter__(self) -> "Squid":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _remove_shm(name: str) -> None:
    shm = Path("/dev/shm")
    if shm.is_dir():
        for p in shm.glob(f"{name}-*"):
            with contextlib.suppress(OSError):
                p.unlink()


def _squid_user() -> tuple[int, int] | None:
    """(uid, gid) Squid drops to when started as root; None when not root (it keeps our user)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    import pwd

    for user in ("proxy", "squid", "nobody"):
        try:
            pw = pwd.getpwnam(user)
            return pw.pw_uid, pw.pw_gid
        except KeyError:
            continue
    return None  # pragma: no cover - exotic system


def _give_to_squid_user(directory: Path) -> None:
    """As root, Squid drops to the ``proxy`` (or ``squid``) user: it must own its directory."""
    ids = _squid_user()
    if ids is None:
        return
    for root, dirs, files in os.walk(directory):
        os.chown(root, *ids)
        for f in files:
            with contextlib.suppress(OSError):
                os.chown(os.path.join(root, f), *ids, follow_symlinks=False)


def _reachable_by_squid(directory: Path) -> bool:
    """Can Squid's user traverse every parent of ``directory``?  (pytest's tmp dirs are mode 700.)"""
    ids = _squid_user()
    if ids is None:
        return True
    uid, gid = ids
    for parent in Path(directory).resolve().parents:
        try:
            st = parent.stat()
        except OSError:
            return False
        if not (st.st_mode & 0o001 or (st.st_uid == uid and st.st_mode & 0o100)
                or (st.st_gid == gid and st.st_mode & 0o010)):
            return False
    return True


def _ipv6_loopback() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_orphaned_squids() -> list[str]:
    """SIGKILL lab Squids whose lab process is gone (Linux /proc).

    A lab Squid is named ``proxydiaglab<pid>n<k>`` after the process that
    started it, which is also its parent; when its parent pid differs, that
    process died without stopping it (SIGKILL, crash).  As root Squid changes
    user, which clears ``PR_SET_PDEATHSIG``, so this sweep is what catches it.
    """
    killed: list[str] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return killed
    marker = f"-n{chr(0)}{_NAME_PREFIX}"
    for entry in proc.glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_text(errors="replace")
            if marker not in cmdline:
                continue
            name = cmdline.split(marker, 1)[1].split(chr(0), 1)[0]
            owner = name.partition("n")[0]
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            ppid = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
        if owner.isdigit() and ppid != int(owner):
            with contextlib.suppress(OSError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(f"pid {entry.name} ({_NAME_PREFIX}{name})")
    if killed:
        time.sleep(0.05)  # let the kernel reap them before their segments are removed
    return killed


def sweep_stale(shm_dir: Path | str = "/dev/shm", tmp_dir: Path | str | None = None) -> list[str]:
    """Remove shared memory and temp dirs left by lab processes that no longer exist (killed outright)."""
    removed: list[str] = _kill_orphaned_squids()
    shm = Path(shm_dir)
    if shm.is_dir():
        for p in shm.glob(f"{_NAME_PREFIX}*"):
            pid = p.name[len(_NAME_PREFIX):].partition("n")[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                with contextlib.suppress(OSError):
                    p.unlink()
                    removed.append(str(p))
    # proxydiag-demo-<pid>-*: the scratch directory of a `proxydiag demo` killed outright.
    for prefix in (_TMP_PREFIX, "proxydiag-demo-"):
        for p in Path(tmp_dir or tempfile.gettempdir()).glob(f"{prefix}*"):
            pid = p.name[len(prefix):].partition("-")[0]
            if pid.isdigit() and not _pid_alive(int(pid)) and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
                removed.append(str(p))
    return removed


# -- proxy.py (fallback) ------------------------------------------------------------------------
class ProxyPyProxy:
    """proxy.py in this process, kept on loopback: every upstream name resolves to 127.0.0.1.

    ``blocked`` hosts get 403 and a block page (no ``X-Squid-Error``);
    ``intercept`` = (CA cert, CA key, upstream CA file) turns on TLS
    interception, where proxy.py sends only the leaf, so clients report
    "unable to get local issuer certificate" (Squid sends the chain: "self-signed
    certificate in certificate chain").
    """

    def __init__(self, directory: Path, *, basic_auth: str | None = None, blocked: Sequence[str] = (),
                 intercept: tuple[Path, Path, Path] | None = None) -> None:
        self.directory = Path(directory)
        self.basic_auth = basic_auth
        self.blocked = list(blocked)
        self.intercept = intercept
        self._proxy: Any = None
        self.port = 0
        self.host = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ProxyPyProxy":
        try:
            import proxy  # noqa: F401
            from proxy.http.proxy import HttpProxyBasePlugin
        except ImportError as exc:
            raise LabUnavailable(f"neither squid nor proxy.py is available; install squid with: "
                                 f"{squid_install_hint()}, or pip install proxy.py") from exc

        class LoopbackResolver(HttpProxyBasePlugin):  # type: ignore[misc, valid-type]
            """Resolve every upstream name to 127.0.0.1: the lab never leaves loopback."""

            def resolve_dns(self, host: str, port: int) -> tuple[str | None, Any]:
                return "127.0.0.1", None

        args = ["--hostname", "127.0.0.1", "--port", "0", "--num-acceptors", "1", "--num-workers", "1",
                "--threaded", "--log-level", "CRITICAL", "--pid-file", str(self.directory / "proxypy.pid"),
                # proxy.py otherwise creates ~/.proxy: the lab never writes to the user's home.
                "--data-dir", str(self.directory / "proxypy"), "--cache-dir", str(self.directory / "proxypy-cache")]
        plugins: list[Any] = [LoopbackResolver]
        if self.basic_auth:
            args += ["--basic-auth", self.basic_auth]
        if self.blocked:
            from proxy.http.exception import HttpRequestRejected

            blocked = {h.lower() for h in self.blocked}

            class BlockHosts(HttpProxyBasePlugin):  # type: ignore[misc, valid-type]
                """Refuse CONNECT to blocked hosts with 403 and a block page, as corporate proxies do
                (proxy.py's own FilterByUpstreamHostPlugin answers 418)."""

                def before_upstream_connection(self, request: Any) -> Any:
                    host = (request.host or b"").decode("latin-1").lower()
                    if host in blocked:
                        raise HttpRequestRejected(
                            status_code=403, reason=b"Forbidden",
                            headers={b"Content-Type": b"text/html"},
                            body=b"<html><body><h1>Access denied</h1>"
                                 b"<p>Blocked by the proxy's policy (proxydiag lab).</p></body></html>\n")
                    return request

            plugins.append(BlockHosts)
        if self.intercept:
            cert, key, upstream_ca = self.intercept
            cert_dir = self.directory / "proxypy-certs"
            cert_dir.mkdir(mode=0o700, exist_ok=True)
            args += ["--ca-cert-file", str(cert), "--ca-key-file", str(key), "--ca-signing-key-file", str(key),
                     "--ca-cert-dir", str(cert_dir), "--ca-file", str(upstream_ca)]
        import proxy as proxy_mod

        self._proxy = proxy_mod.Proxy(args, plugins=plugins)
        self._proxy.setup()
        self.port = int(self._proxy.flags.port)
        return self

    def stop(self) -> None:
        p, self._proxy = self._proxy, None
        if p is not None:
            with contextlib.suppress(Exception):
                p.shutdown()


# -- the lab ---------------------------------------------------------------------------------------
_LIVE: set["Lab"] = set()
_LIVE_LOCK = threading.Lock()


def _stop_all() -> None:
    with _LIVE_LOCK:
        labs = list(_LIVE)
    for lab in labs:
        lab.stop()


atexit.register(_stop_all)


def _write(path: Path, data: bytes | str, mode: int = 0o600) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return path


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
            self.workdir = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-{self.name}-", dir=parent))
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
        if name == "slow-origin":
            origin.configure(delay=SLOW_ORIGIN_DELAY)
        if name == "rate-limited":
            origin.configure(status=429, status_headers={"retry-after": "30",
                                                         "anthropic-ratelimit-requests-remaining": "0"})
        self.origin = self._own(origin.start())
        self.origin_port = origin.port
        if name == "upstream-down":
            self.origin_port = self._own(ClosedPort()).port
        self.target_url = f"https://api.anthropic.com:{self.origin_port}"
        self.http_target_url = f"http://api.anthropic.com:{origin.http_port}"

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

        scheme = "http"
        if name in ("basic-auth",):
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

        env = {"HTTPS_PROXY": self.proxy_url, "HTTP_PROXY": self.proxy_url}
        if name == "no-proxy-provider":
            env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1,.anthropic.com"
        if corporate is not None and (name in _TRUSTED or name == "der-ca"):
            bundle = _write(wd / "ca-bundle.pem", public.cert_pem + corporate.cert_pem, 0o644)
            for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
                env[var] = str(bundle)
            env["NODE_EXTRA_CA_CERTS"] = str(self.interception_ca_path)
            if name == "der-ca":
                env["NODE_EXTRA_CA_CERTS"] = str(_write(wd / "corporate-ca.cer", corporate.cert_der, 0o644))
        self.env = env
        self.pytest_args = ["--proxydiag-target", self.target_url,
                            "--proxydiag-resolve", f"api.anthropic.com:{self.origin_port}:127.0.0.1",
                            "--proxydiag-public-roots", self.public_roots, "--proxydiag-no-direct",
                            # Claude Code's other hosts (claude.ai, the npm registry...) are not mapped to
                            # loopback here; tests/test_claude_hosts.py checks them with a loopback-only Squid.
                            "--proxydiag-no-claude-hosts", *extras]

    def _start_squid(self, corporate: LabCA | None) -> Squid:
        wd = self.workdir
        assert wd is not None
        name = self.name
        if name == "ipv6-proxy" and not _ipv6_loopback():
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
            sq_dir = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-{name}-squid-", dir=parents[0]))
            self._extra_dirs.append(sq_dir)
        origin_ca = _write(sq_dir / "origin-ca.pem", Path(self.public_roots).read_bytes(), 0o644)
        hosts = _write(sq_dir / "hosts", "".join(f"127.0.0.1 {h}\n" for h in PROVIDER_HOSTS), 0o644)
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
        if name in ("blocked-domain", "block-page"):
            rules.append("acl provider dstdomain api.anthropic.com")
            # blocked-domain refuses the CONNECT; block-page lets the tunnel through and denies
            # the requests Squid sees inside it once it has bumped TLS.
            access.append("http_access deny provider" if name == "blocked-domain"
                          else "http_access deny !CONNECT provider")
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
                      f"tls_outgoing_options cafile={origin_ca}",
                      "acl step1 at_step SslBump1",
                      "ssl_bump peek step1",
                      "ssl_bump bump all"]
        access += ["http_access allow localhost", "http_access deny all"]
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
