"""Only the probe layer opens sockets: a whole lab diagnosis, with every connect traced to the code that asked.

During the run, ``socket.socket.connect`` and ``connect_ex`` are wrapped: each
call walks the Python stack to the nearest frame of the project (the package
or a test file of the run).  It must be in ``pytest_proxydiag/net/`` (the
probes) or ``pytest_proxydiag/lab/`` (the lab's own servers, not the
diagnosis).  Real clients run as subprocesses, so their sockets are not in
this process.  A site test that opens its own socket is caught the same way
(the second test), so the guard is shown to bite.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

import pytest_proxydiag

PACKAGE = Path(pytest_proxydiag.__file__).resolve().parent
ALLOWED = (PACKAGE / "net", PACKAGE / "lab")


def _asker(ours: tuple[Path, ...]) -> Path | None:
    """The nearest frame on the stack in the project's own code (package or run directory), else None."""
    frame = sys._getframe(2)
    while frame is not None:
        path = Path(frame.f_code.co_filename).resolve()
        if any(path.is_relative_to(root) for root in ours) and path.name != Path(__file__).name:
            return path
        frame = frame.f_back
    return None


@pytest.fixture
def socket_tracer(monkeypatch, pytester):
    """Wrap connect/connect_ex; return the list of (file asking, address) outside the allowed rooms."""
    offenders: list[tuple[str, object]] = []
    ours = (PACKAGE, Path(pytester.path).resolve())
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(address) -> None:
        asker = _asker(ours)
        if asker is not None and not any(asker.is_relative_to(room) for room in ALLOWED):
            offenders.append((str(asker), address))

    def connect(self, address):
        check(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return offenders


def test_a_full_lab_diagnosis_opens_sockets_only_in_the_probe_layer(run_diag, lab_factory, socket_tracer):
    lab = lab_factory("healthy")
    run = run_diag(lab=lab, env={"SHELL": "/bin/bash"})
    assert run.doc["run"]["requests_sent"] > 10, "the diagnosis sent nothing: the guard proved nothing"
    assert not [s for s in run.steps if s["outcome"] == "error"], run.output[-3000:]
    assert socket_tracer == []


def test_a_site_test_opening_its_own_socket_is_caught(run_diag, lab_factory, socket_tracer, pytester):
    lab = lab_factory("healthy")
    pytester.makepyfile(test_site_socket="""
        import socket
        import pytest

        @pytest.mark.proxydiag_step("site.own_socket", title="Opens its own socket", solution="{detail}")
        def test_own_socket(proxydiag_config, proxydiag_step):
            p = proxydiag_config.proxy.url
            socket.create_connection((p.host, p.port), timeout=2).close()
            proxydiag_step.passed("connected without the probes")
    """)
    run_diag("-m", "site", str(pytester.path / "test_site_socket.py"), lab=lab)
    assert [Path(where).name for where, _address in socket_tracer] == ["test_site_socket.py"]
