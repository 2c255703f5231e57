import pytest


@pytest.mark.proxydiag_step("site.acme_proxy_declared", title="ACME proxy configured",
                            solution="Set the ACME proxy: export HTTPS_PROXY=http://proxy.acme.example:8080")
def test_acme_proxy_declared(proxydiag_config, proxydiag_step):
    proxy = proxydiag_config.proxy.url
    if proxy is None or not proxy.host.endswith("acme.example"):
        proxydiag_step.fail("default", detail=f"the proxy in use is {proxydiag_config.proxy.display()}, "
                                              "not proxy.acme.example")
