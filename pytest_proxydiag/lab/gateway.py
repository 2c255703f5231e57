"""A real LiteLLM proxy in the lab: the gateway hop between Claude Code and the corporate proxy.

Many companies put a LiteLLM proxy between Claude Code and the provider, so a
request makes two hops: Claude Code → gateway (``ANTHROPIC_BASE_URL``), then
gateway → corporate proxy → provider.  :class:`GatewayLab` builds both on
loopback — a :class:`~pytest_proxydiag.lab.Lab` (real Squid, origin, CAs) and
an unmodified ``litellm`` process with a generated config — and breaks one
thing per scenario::

    from pytest_proxydiag.lab.gateway import GatewayLab

    with GatewayLab("gateway-egress-untrusted") as gl:
        gl.env           # the developer's shell: proxy, CA, ANTHROPIC_BASE_URL, NO_PROXY
        gl.pytest_args   # what to add to `pytest --proxydiag`
        gl.gateway_url   # http://litellm.corp.internal:40123 (pinned to 127.0.0.1)
        gl.restart(env={...})   # the gateway again, under a fixed environment

LiteLLM is large (about 750 MB), so it lives in a virtualenv of its own, never
in the diagnosis's environment: :func:`find_litellm` looks at
``$PROXYDIAG_LITELLM``, ``/opt/proxydiag-litellm/bin/litellm`` and ``PATH``;
:func:`litellm_install_hint` says how to make one.  Start-up takes 7-20 s
(measured on 2 cores), so tests share one gateway per configuration.

Loopback only: the gateway's own name lookups go through ``libnss_wrapper``
with a hosts file that maps the provider's name to 127.0.0.1 (the provider
origin listens there), and ``LITELLM_LOCAL_MODEL_COST_MAP`` keeps LiteLLM from
fetching its price list at start-up.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from pytest_proxydiag.lab import USER, PASSWORD, WRONG_PASSWORD, Lab, LabError, LabUnavailable
from pytest_proxydiag.lab.base import pdeathsig
from pytest_proxydiag.lab.servers import ClosedPort, free_port

__all__ = ["GatewayLab", "GatewayScenario", "LiteLLMGateway", "GATEWAY_SCENARIOS", "GATEWAY_HOST",
           "LITELLM_VERSION", "find_litellm", "litellm_install_hint", "nss_wrapper"]

#: The release the lab and CI install (pip ``litellm[proxy]``); bump deliberately.
LITELLM_VERSION = "1.81.16"
LITELLM_VENV = Path("/opt/proxydiag-litellm")
#: The gateway's name as developers write it: an internal host, pinned to 127.0.0.1.
GATEWAY_HOST = "litellm.corp.internal"
MASTER_KEY = "sk-lab-gateway-master-7"
WRONG_KEY = "sk-lab-gateway-wrong-1"
#: The provider key the gateway holds: the lab origin answers any key with 401, which proves the path.
PROVIDER_KEY = "sk-ant-lab-provider-dummy"
START_TIMEOUT = 60.0


#: Gateways still running: stopped at interpreter exit, like the lab's Squids.
_LIVE: set["LiteLLMGateway"] = set()


@atexit.register
def _stop_all() -> None:
    for gateway in list(_LIVE):
        gateway.stop()


def find_litellm() -> str | None:
    """The ``litellm`` executable of the lab's venv (or ``$PROXYDIAG_LITELLM``, or PATH), or None."""
    for candidate in (os.environ.get("PROXYDIAG_LITELLM"), str(LITELLM_VENV / "bin" / "litellm"),
                      shutil.which("litellm")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def litellm_install_hint() -> str:
    return (f"python3 -m venv {LITELLM_VENV} && {LITELLM_VENV}/bin/pip install 'litellm[proxy]=={LITELLM_VERSION}'"
            " (or set PROXYDIAG_LITELLM to a litellm executable)")


def nss_wrapper() -> str | None:
    """Path of libnss_wrapper.so (Debian: libnss-wrapper), which pins the gateway's own name lookups."""
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"):
        path = os.path.join(d, "libnss_wrapper.so")
        if os.path.exists(path):
            return path
    return None


def _config_yaml(api_base: str, *, master_key: str | None, extra_settings: Mapping[str, object],
                 models: Mapping[str, str] | None = None) -> str:
    lines = ["model_list:"]
    for name, model in (models or {"*": "anthropic/*"}).items():
        lines += [f'  - model_name: "{name}"', "    litellm_params:", f"      model: {model}",
                  f"      api_base: {api_base}", "      api_key: os.environ/ANTHROPIC_API_KEY"]
    lines += ["litellm_settings:", "  num_retries: 0", "  request_timeout: 15"]
    lines += [f"  {k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in extra_settings.items()]
    if master_key:
        lines += ["general_settings:", f"  master_key: {master_key}"]
    return "\n".join(lines) + "\n"


class LiteLLMGateway:
    """One unmodified ``litellm`` proxy process on a free loopback port.

    *env* is the gateway host's environment (its egress proxy and CA
    variables); *settings* go to ``litellm_settings`` in the generated config;
    *models* maps each ``model_name`` to its LiteLLM model (default: every
    name, ``"*"`` to ``anthropic/*``).
    """

    def __init__(self, workdir: Path, api_base: str, env: Mapping[str, str], *, master_key: str | None = None,
                 settings: Mapping[str, object] | None = None, hosts: Mapping[str, str] | None = None,
                 models: Mapping[str, str] | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.api_base = api_base
        self.env = dict(env)
        self.master_key = master_key
        self.settings = dict(settings or {})
        self.hosts = dict(hosts or {})
        self.models = dict(models) if models else None
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.startup_seconds: float | None = None
        self.config_path = self.workdir / "litellm-config.yaml"
        self.log_path = self.workdir / "litellm.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LiteLLMGateway":
        binary = find_litellm()
        if binary is None:
            raise LabUnavailable(f"LiteLLM is not installed: {litellm_install_hint()}")
        wrapper = nss_wrapper()
        if wrapper is None:
            raise LabUnavailable("libnss_wrapper is missing (Debian: apt-get install libnss-wrapper); without it "
                                 "the gateway would look up the provider's real name")
        self.config_path.write_text(_config_yaml(self.api_base, master_key=self.master_key,
                                                 extra_settings=self.settings, models=self.models))
        hosts_file = self.workdir / "hosts"
        hosts_file.write_text("".join(f"{addr} {name}\n" for name, addr in
                                      {"localhost": "127.0.0.1", **self.hosts}.items()))
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
        env.update(HOME=str(self.workdir), LITELLM_LOCAL_MODEL_COST_MAP="True", ANTHROPIC_API_KEY=PROVIDER_KEY,
                   LD_PRELOAD=wrapper, NSS_WRAPPER_HOSTS=str(hosts_file), NSS_WRAPPER_PASSWD="/etc/passwd",
                   NSS_WRAPPER_GROUP="/etc/group", PYTHONDONTWRITEBYTECODE="1")
        env.update(self.env)
        self._binary, self._env = binary, env
        for _attempt in range(3):
            if self._start_once():
                return self
        self.stop()
        raise LabError(f"litellm could not bind a free port three times:\n{self.log_tail()}")

    def _start_once(self) -> bool:
        """One start on a fresh port; False when the port was taken meanwhile (another process bound it
        between our probe and litellm's bind: then another server may even answer the health check)."""
        binary, env = self._binary, self._env
        self.port = free_port()
        t0 = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [binary, "--config", str(self.config_path), "--host", "127.0.0.1", "--port", str(self.port)],
                env=env, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                # Dies with us: a test run killed mid-way left 13 LiteLLM processes behind (measured).
                start_new_session=True, preexec_fn=pdeathsig())
        _LIVE.add(self)
        while time.monotonic() - t0 < START_TIMEOUT:
            if self.process.poll() is not None:
                if "address already in use" in self.log_tail().lower():
                    self.process = None
                    return False
                code = self.process.returncode
                self.stop()
                raise LabError(f"litellm exited with {code} at start-up:\n{self.log_tail()}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                with urllib.request.urlopen(f"{self.url}/health/liveliness", timeout=1) as r:
                    # Ours only if our process is alive and says it serves this port.
                    if r.status == 200 and self.process.poll() is None and f":{self.port}" in self.log_tail(200):
                        self.startup_seconds = time.monotonic() - t0
                        return True
            time.sleep(0.2)
        self.stop()
        raise LabError(f"litellm did not answer /health/liveliness within {START_TIMEOUT:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        proc, self.process = self.process, None
        _LIVE.discard(self)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(OSError):
            if hasattr(os, "killpg"):
                os.killpg(proc.pid, signal.SIGKILL)
            else:  # pragma: no cover - Windows
                proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def restart(self, env: Mapping[str, str] | None = None, settings: Mapping[str, object] | None = None) -> None:
        """Start again on a new port with *env* / *settings* replaced (a fix applied on the gateway's host)."""
        self.stop()
        if env is not None:
            self.env = dict(env)
        if settings is not None:
            self.settings = dict(settings)
        self.start()

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass(frozen=True)
class GatewayScenario:
    name: str
    base: str               #: the Lab scenario that plays the corporate proxy
    description: str
    expected_root_cause: str | None


#: The one model the gateway serves in ``gateway-model-not-served``, and the one Claude Code asks for there.
SERVED_MODEL = "claude-sonnet-4-5"
UNSERVED_MODEL = "claude-opus-4-1"

GATEWAY_SCENARIOS: dict[str, GatewayScenario] = {s.name: s for s in (
    GatewayScenario("gateway-healthy", "ssl-bump-trusted",
                    "Claude Code reaches LiteLLM direct; LiteLLM's egress goes through the intercepting Squid "
                    "with the corporate CA", None),
    GatewayScenario("gateway-not-in-no-proxy", "ssl-bump-trusted",
                    "the gateway's internal name is missing from NO_PROXY: Claude Code sends gateway traffic to "
                    "the corporate proxy, which cannot resolve it", "gateway.client_route"),
    GatewayScenario("gateway-egress-untrusted", "ssl-bump-trusted",
                    "LiteLLM's egress goes through the intercepting Squid without the corporate CA",
                    "gateway.provider_path"),
    GatewayScenario("gateway-egress-no-credentials", "basic-auth",
                    "LiteLLM's HTTPS_PROXY has no credentials; the proxy wants Basic auth (407)",
                    "gateway.provider_path"),
    GatewayScenario("gateway-egress-wrong-password", "basic-auth",
                    "LiteLLM's HTTPS_PROXY carries a wrong password; the developer's own is right (407 to the "
                    "gateway only)", "gateway.provider_path"),
    GatewayScenario("gateway-ssl-verify-false", "ssl-bump-trusted",
                    "the gateway config has ssl_verify: false (it works, unverified)", "gateway.egress_config"),
    GatewayScenario("gateway-wrong-key", "healthy",
                    "the developer's gateway key is not the one the gateway accepts (LiteLLM without a database: "
                    "its own 400 'No connected db.')",
                    "gateway.key"),
    GatewayScenario("gateway-down", "healthy",
                    "ANTHROPIC_BASE_URL names a gateway that is not running", "connectivity.gateway"),
    GatewayScenario("gateway-egress-buffers-sse", "healthy",
                    "LiteLLM's egress goes through a proxy that holds streamed answers (SSE) back until they end",
                    "gateway.streaming"),
    GatewayScenario("gateway-base-url-v1", "healthy",
                    "ANTHROPIC_BASE_URL ends with /v1: Claude Code asks the gateway for /v1/v1/messages (its 404)",
                    "gateway.provider_path"),
    GatewayScenario("gateway-model-not-served", "healthy",
                    f"the gateway's model_list has only {SERVED_MODEL}; Claude Code's ANTHROPIC_MODEL is another "
                    "(the gateway's own 400 'Invalid model name')", "gateway.provider_path"),
    GatewayScenario("gateway-egress-ignores-proxy", "healthy",
                    "the gateway config has disable_aiohttp_trust_env: true: LiteLLM ignores its HTTPS_PROXY and "
                    "goes direct, which the gateway's network refuses", "gateway.provider_path"),
    GatewayScenario("gateway-base-url-https", "healthy",
                    "ANTHROPIC_BASE_URL says https:// for a gateway that speaks plain HTTP (it runs; TLS fails)",
                    "connectivity.gateway"),
    GatewayScenario("gateway-api-base-http", "healthy",
                    "the gateway config's api_base names the provider with http://: the request never reaches it",
                    "gateway.provider_path"),
)}

#: Where the developer keeps the gateway key in the scenarios that have one.
KEY_ENV = "PROXYDIAG_LAB_GATEWAY_KEY"


class GatewayLab:
    """A :class:`Lab` plus a real LiteLLM gateway, one problem per scenario (see :data:`GATEWAY_SCENARIOS`)."""

    def __init__(self, name: str, workdir: Path | str | None = None) -> None:
        if name not in GATEWAY_SCENARIOS:
            raise LabError(f"unknown gateway scenario {name!r}; known: {', '.join(GATEWAY_SCENARIOS)}")
        self.info = GATEWAY_SCENARIOS[name]
        self.name = name
        self.lab = Lab(self.info.base, workdir)
        self.gateway: LiteLLMGateway | None = None
        self.gateway_url = ""
        self.gateway_port = 0
        self.env: dict[str, str] = {}
        self.pytest_args: list[str] = []
        self.gateway_env: dict[str, str] = {}

    def __enter__(self) -> "GatewayLab":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "GatewayLab":
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        if self.name != "gateway-down" and find_litellm() is None:
            raise LabUnavailable(f"LiteLLM is not installed: {litellm_install_hint()}")
        lab = self.lab.start()
        name = self.name
        wd = Path(lab.workdir or ".")
        proxy = lab.proxy_url
        if name == "gateway-egress-no-credentials":
            proxy = proxy.replace(f"{USER}:{PASSWORD}@", "")
        if name == "gateway-egress-wrong-password":
            proxy = proxy.replace(f"{USER}:{PASSWORD}@", f"{USER}:{WRONG_PASSWORD}@")
        if name == "gateway-egress-buffers-sse":
            # No real proxy buffers on demand: the scripted CONNECT relay that holds data until the origin
            # has been quiet for 0.5 s (the performance branch's buffering proxy) plays the gateway's egress.
            from pytest_proxydiag.lab.hostile import SlowRelay

            proxy = self.lab._own(SlowRelay(buffer=True)).url
        # The gateway host's egress settings: its proxy and, behind interception, the corporate CA.
        egress = {"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "NO_PROXY": "localhost,127.0.0.1"}
        bundle = lab.env.get("SSL_CERT_FILE")
        if name in ("gateway-egress-untrusted", "gateway-ssl-verify-false") or not bundle:
            egress["SSL_CERT_FILE"] = lab.public_roots
        else:
            egress["SSL_CERT_FILE"] = bundle
        self.gateway_env = egress
        settings: dict[str, object] = {"ssl_verify": False} if name == "gateway-ssl-verify-false" else {}
        if name == "gateway-egress-ignores-proxy":
            settings["disable_aiohttp_trust_env"] = True
        master = MASTER_KEY if name == "gateway-wrong-key" else None
        if name == "gateway-down":
            self.gateway_port = self.lab._own(ClosedPort()).port
        else:
            # Direct, the provider's name leads nowhere in this scenario (the origin listens on 127.0.0.1 only):
            # only the proxy, which resolves it itself, reaches it, as behind a firewall.
            self.direct_address = "127.0.0.2" if name == "gateway-egress-ignores-proxy" else "127.0.0.1"
            api_base = lab.target_url.replace("https://", "http://", 1) if name == "gateway-api-base-http" \
                else lab.target_url
            models = {SERVED_MODEL: f"anthropic/{SERVED_MODEL}"} if name == "gateway-model-not-served" else None
            self.gateway = LiteLLMGateway(wd / "gateway", api_base, egress, master_key=master, settings=settings,
                                          hosts={"api.anthropic.com": self.direct_address}, models=models)
            self.gateway.start()
            self.gateway_port = self.gateway.port
        self._client_side()

    def restart_gateway(self, env: Mapping[str, str] | None = None,
                        settings: Mapping[str, object] | None = None) -> None:
        """Restart the gateway with *env* / *settings* replaced (a change on the gateway's host); the
        developer's side (``env``, ``pytest_args``) follows it to its new port."""
        assert self.gateway is not None, "this scenario runs no gateway"
        self.gateway.restart(env=env, settings=settings)
        self.gateway_port = self.gateway.port
        self._client_side()

    def _client_side(self) -> None:
        """The developer's shell and the run's arguments for the gateway at ``gateway_port``."""
        lab, name = self.lab, self.name
        scheme = "https" if name == "gateway-base-url-https" else "http"
        self.gateway_url = f"{scheme}://{GATEWAY_HOST}:{self.gateway_port}"
        env = dict(lab.env)
        env["ANTHROPIC_BASE_URL"] = self.gateway_url + ("/v1" if name == "gateway-base-url-v1" else "")
        if name == "gateway-model-not-served":
            env["ANTHROPIC_MODEL"] = UNSERVED_MODEL
        no_proxy = "localhost,127.0.0.1" + ("" if name == "gateway-not-in-no-proxy" else f",{GATEWAY_HOST}")
        env["NO_PROXY"] = env["no_proxy"] = no_proxy
        args = list(lab.pytest_args) + ["--proxydiag-resolve", f"{GATEWAY_HOST}:{self.gateway_port}:127.0.0.1"]
        if name == "gateway-wrong-key":
            env[KEY_ENV] = WRONG_KEY
            args += ["--proxydiag-gateway-key-env", KEY_ENV]
        # No --proxydiag-litellm-config: like a gateway run as a service, its config is found from its
        # process (``--config``), and its environment from /proc.
        self.env = env
        self.pytest_args = args

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        self.lab.stop()
