"""The ``proxydiag`` command: the diagnosis with reports by default, and a demo on a real proxy.

``proxydiag [pytest options...]``
    Runs ``pytest --proxydiag`` in this process with every argument passed
    through, and writes ``proxydiag-report.html`` (when pytest-html is
    installed) and ``proxydiag-report.json`` in the current directory unless
    the command line already names them.  Exits with pytest's exit code.

``proxydiag demo [SCENARIO] [--list] [--out DIR] [-- pytest options...]``
    Starts a lab scenario (default ``ssl-bump-untrusted``, the most common
    failure: see :mod:`pytest_proxydiag.lab`), runs the same diagnosis in a
    subprocess whose environment is a clean copy of this one (no proxy, CA or
    provider variables, ``HOME`` pointed at an empty temporary directory) plus
    what the scenario sets, streams its terminal report, writes HTML and JSON
    into ``./proxydiag-demo/`` (or ``--out``) and stops the lab, also on Ctrl-C.
    Exits 0 when the diagnosis named the scenario's expected root cause, 1 when
    it did not, 2 on a usage error, 3 when the lab cannot run here, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Iterator, Mapping, Sequence

__all__ = ["main", "run_diagnosis", "demo", "clean_environment", "DEFAULT_SCENARIO"]

DEFAULT_SCENARIO = "ssl-bump-untrusted"
HTML_NAME = "proxydiag-report.html"
JSON_NAME = "proxydiag-report.json"
DEMO_DIR = "proxydiag-demo"

#: Exact names a demo subprocess must not inherit: proxy, trust and provider
#: settings of the user's own shell (compared case-insensitively).
_DROP_NAMES = frozenset(n.lower() for n in (
    "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "CURL_HOME",
    "NODE_EXTRA_CA_CERTS", "NODE_TLS_REJECT_UNAUTHORIZED", "NODE_USE_ENV_PROXY", "NODE_OPTIONS",
    "PYTHONHTTPSVERIFY", "NETRC", "AIOHTTP_TRUST_ENV", "API_TIMEOUT_MS", "CLOUD_ML_REGION", "GIT_SSL_CAINFO",
    "XDG_CONFIG_HOME", "HOME", "USERPROFILE",
))
#: Prefixes of names dropped as well (every *_PROXY is dropped by suffix).
_DROP_PREFIXES = ("anthropic_", "claude_", "aws_", "google_", "vertex_", "litellm_", "pytest_", "npm_config_",
                  "proxydiag_")


def clean_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``environ`` without proxy, CA, provider and pytest settings (values are never read)."""
    out = {}
    for name, value in environ.items():
        low = name.lower()
        if low.endswith("_proxy") or low in _DROP_NAMES or low.startswith(_DROP_PREFIXES):
            continue
        out[name] = value
    return out


def _has_option(args: Sequence[str], flag: str) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in args)


#: ``python -m pytest`` for the demo's child, except that a Ctrl-C while pytest still loads its plugins
#: (before it can handle one itself) ends it quietly instead of with an import traceback.
_CHILD_MAIN = ("import sys, pytest\ntry:\n    code = pytest.console_main()\n"
               "except KeyboardInterrupt:\n    code = 130\nsys.exit(code)\n")


def _plugin_args() -> list[str]:
    """``-p pytest_proxydiag.plugin`` when the package runs without its pytest11 entry point (a source tree)."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="pytest11"):
        if ep.value.split(":")[0] == "pytest_proxydiag.plugin":
            return []
    return ["-p", "pytest_proxydiag.plugin"]


def _html_available() -> bool:
    return find_spec("pytest_html") is not None


def _report_args(args: Sequence[str], html: Path, json_path: Path) -> list[str]:
    extra: list[str] = []
    if not _has_option(args, "--html") and _html_available():
        extra += [f"--html={html}", "--self-contained-html"]
    if not _has_option(args, "--proxydiag-json"):
        extra += [f"--proxydiag-json={json_path}"]
    return extra


#: Report options of pytest and pytest-html whose value is a path.
_PATH_OPTIONS = ("--html", "--css", "--junitxml", "--junit-xml")


def joined_values(args: Sequence[str]) -> list[str]:
    """``--opt VALUE`` as ``--opt=VALUE`` for this plugin's options that take a value and the report paths.

    pytest takes every existing path on its command line, an option's value too, for where to look for rootdir
    and the ini file: ``--proxydiag-compare ~/good.json`` would otherwise hide the project's ``pytest.ini``."""
    from pytest_proxydiag.core.config import OPTIONS

    takes_value = {o.flag for o in OPTIONS if o.kind != "bool"} | set(_PATH_OPTIONS)
    out: list[str] = []
    args = list(args)
    while args:
        arg = args.pop(0)
        out.append(f"{arg}={args.pop(0)}" if arg in takes_value and args else arg)
    return out


def _print_paths(paths: Sequence[Path], since: float) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            if path.exists() and path.stat().st_mtime >= since - 1:
                kind = "HTML report" if path.suffix == ".html" else "JSON report"
                print(f"{kind}: {path}")


def run_diagnosis(args: Sequence[str]) -> int:
    """``proxydiag [pytest options...]``: pytest --proxydiag in-process, reports by default."""
    import pytest

    args = joined_values(args)
    cwd = Path.cwd()
    html, json_path = cwd / HTML_NAME, cwd / JSON_NAME
    full = ["--proxydiag", *_plugin_args(), *_report_args(args, html, json_path)]
    if "cacheprovider" not in " ".join(args):
        # The diagnosis has no use for .pytest_cache in the user's directory.
        full += ["-p", "no:cacheprovider"]
    started = time.time()
    code = pytest.main(full + args)
    sys.stdout.flush()
    _print_paths([html, json_path], started)
    return int(code)


# -- demo ---------------------------------------------------------------------------------------
def _demo_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="proxydiag demo",
        description="Run the proxy diagnosis against a real, deliberately misconfigured proxy on this machine "
                    "(loopback only). Arguments after -- go to pytest.")
    p.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO,
                   help=f"lab scenario to run (default: {DEFAULT_SCENARIO}; see --list)")
    p.add_argument("--list", action="store_true", help="list the scenarios and what the diagnosis must find")
    p.add_argument("--out", metavar="DIR", default=DEMO_DIR,
                   help=f"where the HTML and JSON reports go (default: ./{DEMO_DIR})")
    p.add_argument("--backend", choices=("auto", "squid", "proxy.py"), default="auto",
                   help="proxy implementation (default: squid when installed, else proxy.py where it can)")
    return p


def _print_list() -> None:
    from pytest_proxydiag.lab import Lab, PROXYPY_SCENARIOS, find_squid

    squid = find_squid()
    rows = []
    for name, description in Lab.scenarios().items():
        info = Lab.scenario(name)
        backend = info.backend
        if backend == "squid" and not squid:
            backend = "proxy.py" if name in PROXYPY_SCENARIOS else "needs squid"
        rows.append((name, backend, info.expected_root_cause or "none (healthy)", description))
    from pytest_proxydiag.lab.gateway import GATEWAY_SCENARIOS, find_litellm

    # The gateway hop: a real LiteLLM between the client and a Squid of the table above.
    for name, ginfo in GATEWAY_SCENARIOS.items():
        backend = "litellm" if name == "gateway-down" or find_litellm() else "needs litellm"
        rows.append((name, backend, ginfo.expected_root_cause or "none (healthy)", ginfo.description))
    w0, w1, w2 = (max(len(r[i]) for r in rows) for i in range(3))
    print(f"{'scenario':{w0}}  {'backend':{w1}}  {'expected root cause':{w2}}  description")
    for name, backend, root, description in rows:
        print(f"{name:{w0}}  {backend:{w1}}  {root:{w2}}  {description}")
    if not squid:
        from pytest_proxydiag.lab import squid_install_hint

        print(f"\nsquid is not installed: {squid_install_hint()}")


class _Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt so the lab is stopped the same way as on Ctrl-C."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the lab is stopped either way (main thread only)."""
    def raise_interrupt(signum: int, frame: object) -> None:
        raise _Terminated

    try:
        previous = signal.signal(signal.SIGTERM, raise_interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop_child(proc: subprocess.Popen[bytes], already_signalled: bool) -> None:
    """Let the diagnosis end on its own interrupt, then insist: SIGINT once, SIGKILL last.

    On Ctrl-C the terminal has already sent SIGINT to the whole foreground
    group, the diagnosis included; a second SIGINT would hit pytest while it
    handles the first.
    """
    steps = ([None] if already_signalled else []) + ["interrupt", "kill"]
    for step in steps:
        if step == "interrupt":
            # ValueError: Windows sends only CTRL_C_EVENT/CTRL_BREAK_EVENT/SIGTERM, to a console group.
            with contextlib.suppress(ProcessLookupError, ValueError, OSError):
                proc.send_signal(signal.SIGINT)
        elif step == "kill":
            with contextlib.suppress(ProcessLookupError, OSError):
                proc.kill()  # SIGKILL on POSIX, TerminateProcess on Windows (no signal.SIGKILL there)
        try:
            proc.wait(3)
            return
        except subprocess.TimeoutExpired:
            continue


def demo(argv: Sequence[str]) -> int:
    """``proxydiag demo``: see the module docstring."""
    argv = list(argv)
    pytest_extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, pytest_extra = argv[:cut], argv[cut + 1:]
    args = _demo_parser().parse_args(argv)
    if args.list:
        _print_list()
        return 0
    from pytest_proxydiag.lab import Lab, LabError, LabUnavailable
    from pytest_proxydiag.lab.gateway import GATEWAY_SCENARIOS, GatewayLab

    gateway = args.scenario in GATEWAY_SCENARIOS
    if not gateway and args.scenario not in Lab.scenarios():
        print(f"proxydiag demo: unknown scenario {args.scenario!r}; `proxydiag demo --list` shows them",
              file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"proxydiag demo: cannot write the reports into {out}: {exc.strerror or exc}; choose another --out",
              file=sys.stderr)
        return 2
    html, json_path = out / HTML_NAME, out / JSON_NAME
    for stale in (html, json_path):
        with contextlib.suppress(OSError):
            stale.unlink()
    info = GATEWAY_SCENARIOS[args.scenario] if gateway else Lab.scenario(args.scenario)
    proc: subprocess.Popen[bytes] | None = None
    with _sigterm_as_interrupt():
        try:
            with (GatewayLab(args.scenario) if gateway else Lab(args.scenario, backend=args.backend)) as lab, \
                    tempfile.TemporaryDirectory(prefix=f"proxydiag-demo-{os.getpid()}-") as scratch:
                print(f"proxydiag demo: {lab.name} — {info.description}")
                if gateway:
                    proxy_lab = lab.lab
                    print(f"  lab: LiteLLM gateway at {lab.gateway_url} (127.0.0.1), its egress through the "
                          f"{proxy_lab.info.backend} proxy at {proxy_lab.actual_proxy_url}, provider look-alike at "
                          f"{proxy_lab.target_url} (loopback)")
                else:
                    print(f"  lab: {lab.info.backend} proxy at {lab.actual_proxy_url or '(nothing listening)'}, "
                          f"provider look-alike at {lab.target_url} (loopback), up in "
                          f"{lab.startup_seconds or 0:.2f} s")
                print(f"  the shell holds: {', '.join(sorted(lab.env))}")
                print(f"  expected root cause: {info.expected_root_cause or 'none (a healthy setup)'}")
                print(flush=True)
                home = Path(scratch) / "home"
                home.mkdir()
                # An empty ini pins rootdir here: the user's own pytest.ini/conftest.py never apply.
                ini = Path(scratch) / "pytest.ini"
                ini.write_text("[pytest]\n")
                env = clean_environment(os.environ)
                env.update(lab.env)
                env["HOME"] = str(home)
                package_parent = str(Path(__file__).resolve().parent.parent)
                env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
                cmd = [sys.executable, "-c", _CHILD_MAIN, "--proxydiag", "-c", str(ini), "--rootdir", scratch,
                       "-p", "no:cacheprovider", *_plugin_args(), *lab.pytest_args,
                       "--proxydiag-ca-out", str(out / "proxydiag-ca" / "proxy-ca.pem"),
                       *_report_args(pytest_extra, html, json_path), *pytest_extra]
                started = time.time()
                proc = subprocess.Popen(cmd, env=env, cwd=scratch, stdin=subprocess.DEVNULL)
                try:
                    code = proc.wait()
                except KeyboardInterrupt as exc:
                    # Still inside the with-block: the lab and the child's cwd outlive the child.
                    _stop_child(proc, already_signalled=not isinstance(exc, _Terminated))
                    raise
        except KeyboardInterrupt:
            print("\nproxydiag demo: interrupted; the lab is stopped and its files removed.", file=sys.stderr)
            return 130
        except LabUnavailable as exc:
            print(f"proxydiag demo: {exc}", file=sys.stderr)
            return 3
        except LabError as exc:
            print(f"proxydiag demo: the lab could not start: {exc}", file=sys.stderr)
            return 3
    sys.stdout.flush()
    print()
    _print_paths([html, json_path], started)
    try:
        doc = json.loads(json_path.read_text())
    except (OSError, ValueError):
        print(f"proxydiag demo: the diagnosis wrote no JSON report (pytest exit code {code})", file=sys.stderr)
        return code or 1
    found = doc.get("root_cause")
    expected = info.expected_root_cause
    verdict = "as expected" if found == expected else f"expected {expected or 'none'}"
    print(f"root cause: {found or 'none'} ({verdict})")
    return 0 if found == expected else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``proxydiag`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "demo":
        return demo(argv[1:])
    if argv and argv[0] == "fleet":
        from pytest_proxydiag.fleet import main as fleet_main

        return fleet_main(argv[1:])
    return run_diagnosis(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
