"""Three site checks an IT team ships next to the bundled flowchart (run: pytest --proxydiag examples/site_tests).

Each is a few lines: the fixtures give the resolved configuration and the
shared, bounded probes; the marker names the step and its solution, which
every report renders exactly like a bundled step's.
"""

import os
import ssl
from pathlib import Path

import pytest

from pytest_proxydiag import Target

GATEWAY = os.environ.get("ACME_GATEWAY", "http://127.0.0.1:4000")
COMPANY_CA_NAME = os.environ.get("ACME_CA_NAME", "ACME Corporate Root")
PAC_FILE = os.environ.get("ACME_PAC_FILE", "")


@pytest.mark.proxydiag_step("site.gateway_direct", title="Internal LLM gateway reachable without the proxy",
                            solution="Add the gateway host to NO_PROXY and check the VPN:\n"
                                     "  export NO_PROXY=\"$NO_PROXY,{host}\"\n{detail}")
def test_internal_gateway_reachable_direct(proxydiag_probes, proxydiag_step):
    gateway = Target(GATEWAY, "site")
    result = proxydiag_probes.request(gateway, "GET", "/health/liveliness", via_proxy=False)
    if result.reply is None:
        proxydiag_step.fail("default", host=gateway.host, detail=f"{gateway.url}: {result.detail}")


@pytest.mark.proxydiag_step("certificate.acme_ca_in_bundle", title="ACME root CA in the CA bundle Python uses",
                            solution="Install the ACME root from https://pki.acme.example/root.pem:\n"
                                     "  sudo cp acme-root.pem /usr/local/share/ca-certificates/acme-root.crt\n"
                                     "  sudo update-ca-certificates\n{detail}")
def test_company_ca_in_bundle(proxydiag_step):
    bundle = os.environ.get("SSL_CERT_FILE") or ssl.get_default_verify_paths().cafile or ""
    if not bundle or not Path(bundle).is_file():
        proxydiag_step.skip(f"no CA bundle file to inspect ({bundle or 'none configured'})")
    ctx = ssl.create_default_context(cafile=bundle)
    names = {dict(x[0] for x in c["subject"]).get("commonName") for c in ctx.get_ca_certs()}
    assert COMPANY_CA_NAME in names, f"{bundle} does not contain {COMPANY_CA_NAME!r}"


@pytest.mark.proxydiag_step("bypass.acme_pac", title="PAC file sends provider traffic to the ACME proxy",
                            solution="The PAC file must return the corporate proxy for the provider hosts; "
                                     "ask the network team to fix it: {detail}")
def test_pac_routes_providers_to_the_proxy(proxydiag_config, proxydiag_step):
    if not PAC_FILE:
        proxydiag_step.skip("no PAC file configured (ACME_PAC_FILE)")
    pypac = pytest.importorskip("pypac", reason="pypac is needed to evaluate PAC files")
    pac = pypac.parser.PACFile(Path(PAC_FILE).read_text())
    for target in proxydiag_config.targets:
        answer = pac.find_proxy_for_url(target.url, target.host)
        assert answer.upper().startswith("PROXY"), f"{target.host}: the PAC file answers {answer!r}"
