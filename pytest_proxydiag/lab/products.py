"""Real proxy products other than Squid, each from its package as shipped, on loopback.

tinyproxy, Apache httpd (mod_proxy + mod_proxy_connect, Basic auth), Privoxy,
Dante (SOCKS5) and mitmproxy, each started as a child process with a
generated configuration on a free loopback port, and killed by its pid::

    with RealProxy("tinyproxy", credentials=("alice", "s3cret"),
                   blocked=["api.anthropic.com"]) as proxy:
        proxy.url       # http://127.0.0.1:40123

Squid has its own ``hosts_file``; these products use the system resolver, so
each runs under ``libnss_wrapper`` with a private hosts file mapping the
provider names to 127.0.0.1: nothing is resolved outside the machine.
nss_wrapper also answers a numeric ``127.0.0.1`` twice (once from that hosts
file), which makes Apache bind its ``Listen`` address twice and fail; Apache
therefore listens on 127.0.0.2 (loopback too).

A product that is not installed raises :class:`LabUnavailable` naming the
command that installs it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from pytest_proxydiag.lab.base import TMP_PREFIX, LabError, LabUnavailable, kill_group, pdeathsig, write_private
from pytest_proxydiag.lab.servers import LOOPBACK_NAMES, free_port

__all__ = ["ProductSpec", "PRODUCTS", "MISCONFIGS", "RealProxy", "find_product", "find_nss_wrapper", "NSS_WRAPPER_INSTALL"]

NSS_WRAPPER_INSTALL = "sudo apt-get install libnss-wrapper"
_NSS_WRAPPER_PATHS = ("/usr/lib/x86_64-linux-gnu/libnss_wrapper.so", "/usr/lib/aarch64-linux-gnu/libnss_wrapper.so",
                      "/usr/lib64/libnss_wrapper.so", "/usr/lib/libnss_wrapper.so",
                      "/usr/local/lib/libnss_wrapper.so")
#: The account of Privoxy's SOCKS5 parent (Dante) in the lab.
PARENT_USER, PARENT_PASSWORD = "alice", "parent-secret-3"
#: mitmproxy lives in a venv of its own (it pins a cryptography the main environment must not get).
MITMPROXY_VENV = "/opt/proxydiag-mitmproxy"


@dataclass(frozen=True)
class ProductSpec:
    """One proxy product the lab can start."""

    key: str
    #: The product's name as the diagnosis must report it.
    name: str
    binaries: tuple[str, ...]
    install: str
    scheme: str = "http"
    listen_host: str = "127.0.0.1"
    supports_auth: bool = True
    supports_blocking: bool = True


PRODUCTS: dict[str, ProductSpec] = {
    "tinyproxy": ProductSpec("tinyproxy", "tinyproxy", ("tinyproxy", "/usr/sbin/tinyproxy", "/usr/bin/tinyproxy"),
                             "sudo apt-get install tinyproxy"),
    "apache": ProductSpec("apache", "Apache httpd (mod_proxy)", ("apache2", "/usr/sbin/apache2", "httpd",
                                                                 "/usr/sbin/httpd"),
                          "sudo apt-get install apache2", listen_host="127.0.0.2"),
    # Privoxy has no proxy authentication of its own: with credentials, the lab puts a parent proxy that wants
    # them behind it (tinyproxy) and lets Privoxy forward the client's Proxy-Authorization to it.
    "privoxy": ProductSpec("privoxy", "Privoxy", ("privoxy", "/usr/sbin/privoxy"), "sudo apt-get install privoxy"),
    "dante": ProductSpec("dante", "Dante", ("danted", "/usr/sbin/danted", "sockd"),
                         "sudo apt-get install dante-server", scheme="socks5h"),
    "mitmproxy": ProductSpec("mitmproxy", "mitmproxy", (f"{MITMPROXY_VENV}/bin/mitmdump", "mitmdump"),
                             f"python3 -m venv {MITMPROXY_VENV} && {MITMPROXY_VENV}/bin/pip install mitmproxy==11.0.2",
                             supports_blocking=False),
}


#: Misconfigurations an admin plausibly makes, by product: name -> the product's config lines, edited.
MISCONFIGS: dict[str, dict[str, Callable[[list[str]], list[str]]]] = {
    "tinyproxy": {
        # A ConnectPort list without the provider's port: 403 "Access violation" to CONNECT.
        "connect-port": lambda lines: lines + ["ConnectPort 563"],
        # An Allow list without this machine (TEST-NET-1 only): 403 "Access denied" to every request.
        "client-refused": lambda lines: [("Allow 192.0.2.0/24" if x.startswith("Allow ") else x) for x in lines],
        # ReverseOnly Yes (a reverse proxy only): 400 "No mapping found for requested url" to every forward request.
        "reverse-only": lambda lines: lines + ["ReverseOnly Yes", 'ReversePath "/app/" "http://127.0.0.1:9/"'],
        # 'Upstream http 127.0.0.1:<closed port>' (set by RealProxy): 502 "Unable to connect to upstream proxy".
        "parent-down": lambda lines: lines,
        # DisableViaHeader Yes in front of a parent that refuses its Upstream password: the parent's 401, no Via.
        "parent-no-via": lambda lines: lines + ["DisableViaHeader Yes"],
        # 'Upstream http <its own address>': a loop; the inner copy refuses it with 400 "You tried to connect to the
        # machine the proxy is running on", which the outer one relays with its Via.
        "parent-is-self": lambda lines: lines + ["Upstream http {}:{}".format(
            next(x.split()[1] for x in lines if x.startswith("Listen ")),
            next(x.split()[1] for x in lines if x.startswith("Port ")))],
        # 'Upstream http <a SOCKS5 parent (Dante)>' where 'Upstream socks5' is meant (set by RealProxy): the parent drops
        # the HTTP CONNECT, and tinyproxy closes the client's connection without a byte ('process_server_headers').
        "parent-socks-as-http": lambda lines: lines,
        # Timeout 1: a tunnel with no data for a second is closed, while the provider is still thinking.
        "idle-timeout": lambda lines: [("Timeout 1" if x.startswith("Timeout ") else x) for x in lines],
    },
    "dante": {
        # No client rule admits this machine (TEST-NET-1 only): Dante closes the connection on the greeting.
        "client-refused": lambda lines: [x.replace("from: 127.0.0.0/8", "from: 192.0.2.0/24") if x.startswith(
            "client pass") else x for x in lines],
        # Every port but 443 refused: reply 0x02 "not allowed by ruleset", as for a refused domain.
        "port-rule": lambda lines: [("socks block { from: 0.0.0.0/0 to: 0.0.0.0/0 port != 443 log: connect error }\n"
                                     + x if x.startswith("socks pass") else x) for x in lines],
        # No 'socks pass' rule at all (the shipped danted.conf has them all commented out): Dante refuses every
        # destination with reply 0x02 "not allowed by ruleset", the reference name as the provider.
        "no-socks-pass": lambda lines: [x for x in lines if not x.startswith("socks ")],
        # 'socksmethod: username' in the socks pass rule (globally 'username none'), and no credentials in the URL:
        # Dante picks 'none' and its rule refuses every CONNECT with reply 0x02, as if the machine were refused.
        "rule-wants-credentials": lambda lines: [
            "socksmethod: username none" if x == "socksmethod: none" else
            x.replace("to: 0.0.0.0/0 }", "to: 0.0.0.0/0 socksmethod: username }") if x.startswith("socks pass") else x
            for x in lines],
        # timeout.io 1 (a server setting: before the rules): a tunnel with no data for a second is closed, while the
        # provider is still thinking.
        "idle-timeout": lambda lines: [("timeout.io: 1\n" + x if x.startswith("clientmethod") else x) for x in lines],
    },
    "mitmproxy": {  # its command line
        # connection_strategy=lazy: 200 to CONNECT before reaching the provider (closed here), then a close.
        "lazy-upstream-down": lambda argv: argv + ["--set", "connection_strategy=lazy"],
        # Reverse mode (a fixed backend) where a forward proxy is wanted: 400 to CONNECT. Without the lab's
        # '--ignore-hosts .*' (it would pass the connection on to the backend); lazy, so the backend (loopback's
        # closed port 9) is not dialled first, as with a live one.
        "reverse-mode": lambda argv: argv[:argv.index("--ignore-hosts")] + argv[argv.index("--ignore-hosts") + 2:] + [
            "--mode", "reverse:https://127.0.0.1:9", "--set", "connection_strategy=lazy"],
        # block_list with status 444 (intercepting, CA trusted): every request to the provider dropped at once, no
        # answer, the connection closed right after TLS.
        "drop-rule": lambda argv: argv + ["--set", "block_list=:~d api.anthropic.com:444"],
        # body_size_limit 4k (intercepting, CA trusted): 413 to a request body above it.
        "body-limit": lambda argv: argv + ["--set", "body_size_limit=4k"],
    },
    "privoxy": {  # its action file
        # +limit-connect{443} for every URL: 403 "Request blocked by Privoxy" to CONNECT on the provider's port.
        "port-rule": lambda lines: ["{+limit-connect{443}}", "/", *lines],
        # +limit-connect{,} (no CONNECT at all, as default.action's 'standard.Advanced' preset): plain http:// only.
        "no-connect": lambda lines: ["{+limit-connect{,}}", "/", *lines],
        # 'forward-socks5t / 127.0.0.1:<closed port> .' (set by RealProxy): 503 "socks5 server unreachable".
        "parent-down": lambda lines: lines,
        # 'forward-socks5t' to a SOCKS5 parent (Dante) whose rules refuse the provider (set by RealProxy): 503
        # "Forwarding failure", "SOCKS5 request denied".
        "parent-denies": lambda lines: lines,
        # 'forward / parent:port' without 'enable-proxy-authentication-forwarding 1' (set by RealProxy), the right
        # credentials in the proxy URL: Privoxy drops them, and the parent's 407 comes back whatever is sent.
        "no-auth-forwarding": lambda lines: lines,
        # 'permit-access 192.0.2.0/24' (set in its config by RealProxy): every connection from here reset, no reply.
        "client-refused": lambda lines: lines,
        # socket-timeout 1 (set in its config by RealProxy): a tunnel with no data for a second is closed.
        "idle-timeout": lambda lines: lines,
        # The provider blocked with +handle-as-empty-document: 403 with a 1-byte body and no Server header.
        "empty-block": lambda lines: ["{+block{corporate policy} +handle-as-empty-document}", ".anthropic.com", *lines],
    },
    "apache": {
        # ProxyRequests On without mod_proxy_connect (nor its AllowCONNECT): 500 to every CONNECT.
        # AllowCONNECT without the provider's port: 403 "Connect to remote machine blocked", as ProxyBlock's page.
        "port-rule": lambda lines: [("AllowCONNECT 443 563" if x.startswith("AllowCONNECT") else x) for x in lines],
        # Require ip without this machine (TEST-NET-1 only): 403 Forbidden to every request, as for a refused domain.
        "client-refused": lambda lines: [("  Require ip 192.0.2.0/24" if x.strip() in ("Require all granted",
                                                                                     "Require valid-user") else x)
                                         for x in lines],
        # An AuthUserFile Apache cannot open (not there, or not readable by www-data): 500 to CONNECT with credentials.
        "auth-file-unreadable": lambda lines: [("  AuthUserFile /nonexistent/proxydiag-htpasswd"
                                                if x.strip().startswith("AuthUserFile") else x) for x in lines],
        "no-connect-module": lambda lines: [x for x in lines if "proxy_connect" not in x
                                            and not x.startswith("AllowCONNECT")],
    },
}


def find_product(key: str) -> str | None:
    """Path of the product's binary, or None."""
    for candidate in PRODUCTS[key].binaries:
        found = candidate if os.path.isabs(candidate) and os.access(candidate, os.X_OK) else shutil.which(candidate)
        if found:
            return found
    return None


def find_nss_wrapper() -> str | None:
    for path in _NSS_WRAPPER_PATHS:
        if os.path.exists(path):
            return path
    return None


class RealProxy:
    """A product from :data:`PRODUCTS` as a child process: ``RealProxy(key, directory, ...).start()`` / ``.stop()``.

    ``credentials`` (user, password) turns on Basic proxy auth; ``blocked``
    host names are refused by the product's own filter, ``allowed`` ones are the only names it lets through
    (tinyproxy's Filter with FilterDefaultDeny Yes, Privoxy's +block on every URL with -block exceptions);
    ``intercept`` (mitmproxy) re-signs TLS with its own CA, kept in ``<its directory>/mitmproxy`` (the proxy
    host's ``~/.mitmproxy``), with ``upstream_ca`` trusted for the origin.  ``parent_password`` (Privoxy) puts a
    SOCKS5 parent (Dante, user ``alice``) behind it and forwards with that password in Privoxy's own
    ``forward-socks5 / alice:PASSWORD@host:port .`` line: a wrong one is the proxy's configuration, not the user's.
    tinyproxy with ``parent_password`` gets a parent tinyproxy with Basic auth and ``Upstream http
    alice:PASSWORD@host:port`` (``""``: an Upstream line without credentials); mitmproxy gets ``--mode upstream:``
    to a parent tinyproxy with Basic auth and ``--set upstream_auth=alice:PASSWORD``.  ``listen`` (host, port) fixes
    the address instead of a free port (a product's default port, e.g. Privoxy's 8118).
    """

    def __init__(self, key: str, *, credentials: tuple[str, str] | None = None,
                 blocked: Sequence[str] = (), intercept: bool = False, upstream_ca: str | None = None,
                 hosts: Sequence[str] = LOOPBACK_NAMES, parent_password: str | None = None,
                 misconfig: str | None = None, allowed: Sequence[str] = (),
                 listen: tuple[str, int] | None = None) -> None:
        if key not in PRODUCTS:
            raise LabError(f"unknown product {key!r}; known: {', '.join(PRODUCTS)}")
        self.spec = PRODUCTS[key]
        self.binary = find_product(key)
        if not self.binary:
            raise LabUnavailable(f"{self.spec.name} is not installed; install it with: {self.spec.install}")
        self.nss_wrapper = find_nss_wrapper()
        if not self.nss_wrapper:
            raise LabUnavailable(f"{self.spec.name} resolves names itself and the lab maps the provider names to "
                                 f"loopback with nss_wrapper, which is not installed: {NSS_WRAPPER_INSTALL}")
        if credentials and not self.spec.supports_auth:
            raise LabError(f"the lab does not configure proxy authentication for {self.spec.name}")
        # The products drop to their own user (Apache: www-data) and read their files then:
        # a directory of their own that every user can enter, files readable (lab secrets only).
        self.directory = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-{key}-", dir=_reachable_tmp()))
        os.chmod(self.directory, 0o755)
        self.credentials = credentials
        self.parent_password = parent_password
        if misconfig is not None and misconfig not in MISCONFIGS.get(key, {}):
            raise LabError(f"{self.spec.name} has no lab misconfiguration {misconfig!r}")
        self.misconfig = misconfig
        self.blocked = list(blocked)
        self.allowed = list(allowed)
        self.intercept = intercept
        self.upstream_ca = upstream_ca
        self.hosts = list(hosts)
        #: A fixed (host, port) instead of a free port on the product's loopback address (a product's default port).
        self.listen = listen
        self.host = listen[0] if listen else self.spec.listen_host
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None
        #: Privoxy with credentials: the parent proxy that checks them (tinyproxy).
        self.parent: RealProxy | None = None
        #: misconfig "parent-down": the closed port its forwarding names as its parent proxy.
        self.dead_parent: Any = None
        if misconfig == "parent-down":
            from pytest_proxydiag.lab.hostile import ClosedPort  # hostile imports this module

            self.dead_parent = ClosedPort()

    @property
    def url(self) -> str:
        return f"{self.spec.scheme}://{self.host}:{self.port}"

    @property
    def ca_path(self) -> Path:
        """mitmproxy's CA (``~/.mitmproxy/mitmproxy-ca-cert.pem`` on a real proxy host)."""
        return self.directory / "mitmproxy" / "mitmproxy-ca-cert.pem"

    @property
    def log_path(self) -> Path:
        return self.directory / "proxy.log"

    def log_tail(self, lines: int = 15) -> str:
        out: list[str] = []
        for name in ("proxy.log", "error.log", "stderr.log"):
            with contextlib.suppress(OSError):
                out += (self.directory / name).read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out[-lines:])

    # -- configurations ---------------------------------------------------------------------
    def _command(self) -> list[str]:
        d, key = self.directory, self.spec.key
        if key == "tinyproxy":
            lines = [f"Port {self.port}", f"Listen {self.host}", "Allow 127.0.0.1", "Timeout 10",
                     f'LogFile "{self.log_path}"', "LogLevel Info"]
            if self.credentials:
                lines.append("BasicAuth {} {}".format(*self.credentials))
            if self.parent is not None and self.parent_password is not None:
                # A parent proxy with Basic auth, and this proxy's own (wrong) credentials for it in its Upstream line.
                creds = f"{PARENT_USER}:{self.parent_password}@" if self.parent_password else ""
                lines.append(f"Upstream http {creds}{self.parent.host}:{self.parent.port}")
            if self.dead_parent is not None:
                lines.append(f"Upstream http {self.dead_parent.host}:{self.dead_parent.port}")
            if self.misconfig == "parent-socks-as-http" and self.parent is not None:
                lines.append(f"Upstream http {self.parent.host}:{self.parent.port}")
            if self.misconfig:
                lines = MISCONFIGS[key][self.misconfig](lines)
            if self.blocked:
                write_private(d / "filter", "".join(f"^{h.replace('.', '[.]')}$\n" for h in self.blocked), 0o644)
                lines += [f'Filter "{d / "filter"}"', "FilterType ere", "FilterDefaultDeny No"]
            if self.allowed:  # an allow-list: only these names pass
                write_private(d / "allow", "".join(f"^{h.replace('.', '[.]')}$\n" for h in self.allowed), 0o644)
                lines += [f'Filter "{d / "allow"}"', "FilterType ere", "FilterDefaultDeny Yes"]
            write_private(d / "tinyproxy.conf", "\n".join(lines) + "\n", 0o644)
            return [self.binary, "-d", "-c", str(d / "tinyproxy.conf")]
        if key == "apache":
            return [self.binary, "-X", "-f", str(self._apache_config())]
        if key == "privoxy":
            action = ["{+block{proxydiag lab: blocked by policy}}", *self.blocked]
            if self.allowed:  # an allow-list: every URL blocked but these names
                action += ["{+block{proxydiag lab: only approved sites}}", "/", "{-block}",
                           *(f".{h}" for h in self.allowed)]
            if self.misconfig:
                action = MISCONFIGS[key][self.misconfig](action)
            write_private(d / "lab.action", "".join(f"{x}\n" for x in action), 0o644)
            lines = [f"listen-address {self.host}:{self.port}", f"confdir {d}", f"logdir {d}", "logfile proxy.log",
                     "actionsfile lab.action", "templdir /etc/privoxy/templates", "debug 1", "debug 1024"]
            if self.parent is not None and self.misconfig == "parent-denies":
                lines.append(f"forward-socks5t / {self.parent.host}:{self.parent.port} .")
            elif self.parent is not None and self.parent_password is not None:
                # Privoxy's forward lines carry credentials only for a SOCKS5 parent (forward-socks5
                # user:pass@host:port); an HTTP parent gets the client's own Proxy-Authorization.
                creds = f"{PARENT_USER}:{self.parent_password}@" if self.parent_password else ""
                lines.append(f"forward-socks5 / {creds}{self.parent.host}:{self.parent.port} .")
            elif self.parent is not None:
                lines += [f"forward / {self.parent.host}:{self.parent.port}"]
                if self.misconfig != "no-auth-forwarding":  # else the client's Proxy-Authorization is dropped
                    lines.append("enable-proxy-authentication-forwarding 1")
            if self.misconfig == "idle-timeout":  # settings of its main config, not of its action file
                lines.append("socket-timeout 1")
            if self.misconfig == "client-refused":
                lines.append("permit-access 192.0.2.0/24")
            if self.dead_parent is not None:
                lines.append(f"forward-socks5t / {self.dead_parent.host}:{self.dead_parent.port} .")
            write_private(d / "privoxy.conf", "\n".join(lines) + "\n", 0o644)
            return [self.binary, "--no-daemon", str(d / "privoxy.conf")]
        if key == "dante":
            # A leading dot matches the name the client sent (socks5h); a bare name would be
            # resolved at start, to 127.0.0.1, and block every destination.
            blocks = "".join(f"socks block {{ from: 0.0.0.0/0 to: .{h} log: connect error }}\n"
                             for h in self.blocked)
            conf = (f"logoutput: {self.log_path}\ninternal: {self.host} port = {self.port}\nexternal: 127.0.0.1\n"
                    # username: checked against the system's users: the lab's user exists only in the passwd and
                    # shadow files nss_wrapper gives Dante (:meth:`_dante_users`).
                    f"socksmethod: {'username' if self.credentials else 'none'}\nclientmethod: none\n"
                    "user.privileged: root\nuser.unprivileged: nobody\n"
                    "client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }\n" + blocks
                    + "socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }\n")
            if self.misconfig:
                conf = "\n".join(MISCONFIGS[key][self.misconfig](conf.splitlines())) + "\n"
            write_private(d / "danted.conf", conf, 0o644)
            return [self.binary, "-f", str(d / "danted.conf"), "-p", str(d / "danted.pid")]
        # mitmproxy
        cmd = [self.binary, "--listen-host", self.host, "--listen-port", str(self.port),
               "--set", f"confdir={d / 'mitmproxy'}", "--set", "termlog_verbosity=info"]
        if self.credentials:
            cmd += ["--proxyauth", "{}:{}".format(*self.credentials)]
        if not self.intercept:
            cmd += ["--ignore-hosts", ".*"]  # a plain CONNECT tunnel
        if self.upstream_ca:
            cmd += ["--set", f"ssl_verify_upstream_trusted_ca={self.upstream_ca}"]
        if self.parent is not None and self.parent_password is not None:
            cmd += ["--mode", f"upstream:http://{self.parent.host}:{self.parent.port}",
                    "--set", f"upstream_auth={PARENT_USER}:{self.parent_password}"]
        return MISCONFIGS[key][self.misconfig](cmd) if self.misconfig else cmd

    def _apache_config(self) -> Path:
        from pytest_proxydiag.lab.squid import htpasswd_line

        d = self.directory
        modules = ["mpm_event", "authz_core", "authz_host", "authn_core", "authn_file", "auth_basic", "authz_user", "proxy",
                   "proxy_connect", "proxy_http"]
        moddir = "/usr/lib/apache2/modules" if os.path.isdir("/usr/lib/apache2/modules") else "/usr/lib64/httpd/modules"
        lines = ["ServerRoot /etc/apache2" if os.path.isdir("/etc/apache2") else "ServerRoot /etc/httpd",
                 "ServerName proxydiag-lab", f"Listen {self.host}:{self.port}", f"PidFile {d / 'httpd.pid'}",
                 f"DefaultRuntimeDir {d}", f"ErrorLog {d / 'error.log'}", f"Mutex file:{d} default",
                 'LogFormat "%h %u %t \\"%r\\" %>s %b" lab', f"CustomLog {self.log_path} lab",
                 "User www-data", "Group www-data"]
        lines += [f"LoadModule {m}_module {moddir}/mod_{m}.so" for m in modules]
        lines += ["ProxyRequests On", "AllowCONNECT 1-65535", "ProxyTimeout 5", '<Proxy "*">']
        if self.credentials:
            write_private(d / "htpasswd", htpasswd_line(*self.credentials) + "\n", 0o644)
            lines += ["  AuthType Basic", '  AuthName "proxydiag lab"', "  AuthBasicProvider file",
                      f"  AuthUserFile {d / 'htpasswd'}", "  Require valid-user"]
        else:
            lines.append("  Require all granted")
        lines.append("</Proxy>")
        if self.parent is not None:  # mod_proxy_connect sends its parent a bare CONNECT, never any credentials
            lines.append(f'ProxyRemote "*" "http://{self.parent.host}:{self.parent.port}"')
        if self.misconfig:
            lines = MISCONFIGS["apache"][self.misconfig](lines)
        for host in self.blocked:
            lines += [f'<ProxyMatch "^{host.replace(".", "[.]")}">', "  Require all denied", "</ProxyMatch>"]
        return write_private(d / "httpd.conf", "\n".join(lines) + "\n", 0o644)

    # -- lifecycle ------------------------------------------------------------------------------
    def _dante_users(self, env: dict[str, str]) -> None:
        """A lab user for Dante's ``socksmethod: username`` in private passwd and shadow files (nss_wrapper):
        no system user is created, and the real /etc/shadow is never read or written."""
        user, password = self.credentials or ("", "")
        openssl = shutil.which("openssl")
        if not openssl:
            raise LabUnavailable("the lab hashes Dante's lab password with openssl, which is not installed: "
                                 "sudo apt-get install openssl")
        hashed = subprocess.run([openssl, "passwd", "-6", "-stdin"], input=password.encode(), capture_output=True,
                                timeout=10, check=True).stdout.decode().strip()
        passwd = Path("/etc/passwd").read_text(errors="replace")
        env["NSS_WRAPPER_PASSWD"] = str(write_private(
            self.directory / "passwd", f"{user}:x:64999:64999:proxydiag lab:/nonexistent:/usr/sbin/nologin\n" + passwd,
            0o644))
        env["NSS_WRAPPER_SHADOW"] = str(write_private(self.directory / "shadow", f"{user}:{hashed}:20000:0:99999:7:::\n",
                                                      0o600))

    def start(self, timeout: float = 15.0) -> "RealProxy":
        hosts = write_private(self.directory / "hosts", "".join(f"127.0.0.1 {h}\n" for h in self.hosts), 0o644)
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LC_ALL": "C.UTF-8",
               "HOME": str(self.directory), "LD_PRELOAD": self.nss_wrapper or "", "NSS_WRAPPER_HOSTS": str(hosts),
               "NSS_WRAPPER_PASSWD": "/etc/passwd", "NSS_WRAPPER_GROUP": "/etc/group"}
        if self.spec.key == "dante" and self.credentials:
            self._dante_users(env)
        if self.spec.key == "privoxy" and self.parent_password is not None and self.parent is None:
            self.parent = RealProxy("dante", credentials=(PARENT_USER, PARENT_PASSWORD), hosts=self.hosts).start(timeout)
        elif self.spec.key == "privoxy" and self.misconfig == "parent-denies" and self.parent is None:
            self.parent = RealProxy("dante", blocked=["api.anthropic.com"], hosts=self.hosts).start(timeout)
        elif self.spec.key == "tinyproxy" and self.misconfig == "parent-socks-as-http" and self.parent is None:
            self.parent = RealProxy("dante", hosts=self.hosts).start(timeout)
        elif self.spec.key == "tinyproxy" and self.parent_password is not None and self.parent is None:
            self.parent = RealProxy("tinyproxy", credentials=(PARENT_USER, PARENT_PASSWORD), hosts=self.hosts).start(
                timeout)
        elif self.spec.key in ("mitmproxy", "apache") and self.parent_password is not None and self.parent is None:
            # mitmproxy's upstream mode (--set upstream_auth), Apache's ProxyRemote (no credentials on CONNECT at all):
            # a parent checking Basic credentials (tinyproxy).
            self.parent = RealProxy("tinyproxy", credentials=(PARENT_USER, PARENT_PASSWORD), hosts=self.hosts).start(
                timeout)
        elif self.spec.key == "privoxy" and self.credentials and self.parent is None:
            self.parent = RealProxy("tinyproxy", credentials=self.credentials, hosts=self.hosts).start(timeout)
        try:
            return self._start(env, timeout)
        except BaseException:
            if self.parent is not None:
                self.parent.stop()
                self.parent = None
            raise

    def _start(self, env: dict[str, str], timeout: float) -> "RealProxy":
        for _attempt in range(3):
            self.port = self.listen[1] if self.listen else free_port(self.host)
            cmd = self._command()
            t0 = time.monotonic()
            with open(self.directory / "stderr.log", "wb") as err:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                             cwd=self.directory, env=env, start_new_session=True,
                                             preexec_fn=pdeathsig(), close_fds=True)
            status = self._wait_ready(t0, timeout)
            if status is None:
                self.startup_seconds = time.monotonic() - t0
                return self
            tail = self.log_tail()
            self._kill()
            if "in use" not in tail.lower() or self.listen:  # another process took the port: try another one
                raise LabError(f"{self.spec.name} did not start ({status}):\n{tail}")
        raise LabError(f"{self.spec.name} found no free port on {self.host}")

    def _wait_ready(self, t0: float, timeout: float) -> str | None:
        """None once the port accepts; else why not."""
        assert self.proc is not None
        while True:
            code = self.proc.poll()
            if code is not None:
                return f"exited with status {code}"
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.settimeout(0.2)
                if probe.connect_ex((self.host, self.port)) == 0:
                    return None
            if time.monotonic() - t0 > timeout:
                return f"not accepting on {self.host}:{self.port} after {timeout:g} s"
            time.sleep(0.02)

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        kill_group(proc)

    def stop(self) -> None:
        self._kill()
        if self.dead_parent is not None:
            self.dead_parent.stop()
        parent, self.parent = self.parent, None
        if parent is not None:
            parent.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "RealProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _reachable_tmp() -> str:
    for candidate in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
        if os.path.isdir(candidate) and os.stat(candidate).st_mode & 0o001:
            return candidate
    return tempfile.gettempdir()
