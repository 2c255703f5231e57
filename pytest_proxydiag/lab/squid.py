"""A private Squid instance on loopback, its configuration and its access log."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from pytest_proxydiag.lab.base import (TMP_PREFIX, LabError, LabUnavailable, kill_group, listening, pdeathsig,
                                      pid_alive)

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
        try:
            return self._start_once(timeout)
        except LabError as exc:
            # Seen under load: the certificate helper (security_file_certgen) exits at its first start and
            # Squid stops ("sslcrtd_program helpers are crashing too rapidly"); a second start works.
            if "helpers are crashing too rapidly" not in str(exc):
                raise
        return self._start_once(timeout)

    def _start_once(self, timeout: float) -> "Squid":
        if not _reachable_by_squid(self.directory):
            raise LabError(f"Squid drops to its own user, which cannot enter {self.directory} (a parent "
                           "directory is private); use a directory under the system temp dir")
        conf = self.directory / "squid.conf"
        conf.write_text("\n".join(self.lines) + "\n")
        with contextlib.suppress(OSError):
            self.cache_log.unlink()  # a second start must not read the first one's "Accepting" line
        _give_to_squid_user(self.directory)
        t0 = time.monotonic()
        with open(self.directory / "squid.stderr", "wb") as err:
            self.proc = subprocess.Popen(
                [self.binary, "-N", "-n", self.name, "-f", str(conf)],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err, cwd=self.directory,
                env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LC_ALL": "C"},
                start_new_session=True, preexec_fn=pdeathsig(), close_fds=True,
            )
        # Ready = Squid logged that it accepts on the port, and the port listens.  Squid logs "Accepting ...
        # connections at" when it schedules its acceptor job, one event-loop turn before that job calls
        # listen(): a client in between is refused (seen under load).  Reading the kernel's socket table,
        # not connecting, keeps the access log free of our probes ("error:transaction-end-before-headers").
        while True:
            status = self.proc.poll()
            if status is not None:
                tail = self.log_tail()
                self.stop()
                raise LabError(f"squid exited with status {status} at start:\n{tail}")
            with contextlib.suppress(OSError):
                if ("Socket connections at" in self.cache_log.read_text(errors="replace")
                        and listening(self.port) is not False):
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
        kill_group(proc)
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
            if pid.isdigit() and not pid_alive(int(pid)):
                with contextlib.suppress(OSError):
                    p.unlink()
                    removed.append(str(p))
    # proxydiag-demo-<pid>-*: the scratch directory of a `proxydiag demo` killed outright.
    for prefix in (TMP_PREFIX, "proxydiag-demo-"):
        for p in Path(tmp_dir or tempfile.gettempdir()).glob(f"{prefix}*"):
            pid = p.name[len(prefix):].partition("-")[0]
            if pid.isdigit() and not pid_alive(int(pid)) and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
                removed.append(str(p))
    return removed
