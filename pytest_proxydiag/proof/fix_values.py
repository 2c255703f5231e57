"""Values a fix may not hold as written: placeholders, and the proxy URL found on this machine.

A fix never carries an invented value.  It holds what was found (the configured
proxy, or the line of a shell profile that sets it) or a placeholder from
:data:`PLACEHOLDERS`, each with what it means and the command that produces the
value.  A fix holding a placeholder the run cannot fill in is never tried, so
never ``verified``, and the fix script writes its lines commented out.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

__all__ = ["PLACEHOLDER", "PRODUCE_PASSWORD", "PROXY_PLACEHOLDER", "PRODUCE_PROXY_URL", "PLACEHOLDERS",
           "ANY_PLACEHOLDER", "proxy_fix_value", "placeholder_secrets"]

#: What a fix shows in place of the proxy password (URL-encoded).
PLACEHOLDER = "<URL-ENCODED-PASSWORD>"
#: One line that produces the value of :data:`PLACEHOLDER` without echoing or storing it.
PRODUCE_PASSWORD = "python3 -c 'import getpass, urllib.parse as u; print(u.quote(getpass.getpass(), safe=\"\"))'"
#: What a fix shows where the proxy's URL belongs but this run found none (never an example host).
PROXY_PLACEHOLDER = "<PROXY-URL>"
#: Where the user finds the proxy's URL, per system.
PRODUCE_PROXY_URL = ("scutil --proxy (macOS); netsh winhttp show proxy (Windows); "
                     "gsettings list-recursively org.gnome.system.proxy (Linux desktop); or ask IT for the proxy's "
                     "host and port, then write http://HOST:PORT")
#: Every placeholder a fix may hold: what it means and the command that produces the value.
PLACEHOLDERS = {
    PLACEHOLDER: {"means": "your proxy password, URL-encoded", "produce": PRODUCE_PASSWORD},
    PROXY_PLACEHOLDER: {"means": "your proxy's URL", "produce": PRODUCE_PROXY_URL},
    "<CORPORATE-CA-BUNDLE>": {"means": "the path of a PEM file holding your corporate CA",
                              "produce": "the file IT provides, or the proxydiag-ca/ca-bundle.pem the "
                                         "certificate.interception step saves"},
}
ANY_PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9-]*>")


def proxy_fix_value(url, assignments: Iterable[Any] = ()) -> str:
    """The proxy URL a fix line should carry: never an invented host.

    The configured proxy (*url*, a ProxyURL) when there is one; else the value
    found in a shell profile (*assignments*, :func:`pytest_proxydiag.machine.shellenv.scan`
    results, the HTTPS variable first); else :data:`PROXY_PLACEHOLDER`.  A
    password becomes :data:`PLACEHOLDER`, so it is never written out.
    """
    from pytest_proxydiag.core.proxyurl import parse_proxy_url

    if url is not None:
        return url.encoded(password_placeholder=PLACEHOLDER) if url.password else url.encoded()
    rank = {n: i for i, n in enumerate(("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "http_proxy",
                                        "HTTP_PROXY"))}
    for a in sorted((a for a in assignments if a.name in rank and a.value.strip()), key=lambda a: rank[a.name]):
        try:
            found = parse_proxy_url(a.value, source=f"{a.path}:{a.line}")
        except ValueError:
            continue
        return found.encoded(password_placeholder=PLACEHOLDER) if found.password else found.encoded()
    return PROXY_PLACEHOLDER


def placeholder_secrets(proxy: Any, step_id: str, env: Mapping[str, str], key: str | None = None) -> dict[str, str]:
    """The values the fix engine puts in place of :data:`PLACEHOLDER` (in memory only, never shown): the proxy
    URL's password; for auth.netrc, which moves the .netrc login into the proxy URL, the .netrc password; for a
    literal '%' (auth.special_chars ``literal_percent``) the password as written."""
    from urllib.parse import quote

    from pytest_proxydiag.branches.auth import raw_password
    from pytest_proxydiag.machine import netrcfile

    if proxy is None:
        return {}
    password = proxy.password or (netrcfile.password_for(env, proxy.host) if step_id == "auth.netrc" else None)
    if key == "literal_percent":
        password = raw_password(proxy.raw)
    return {PLACEHOLDER: quote(password, safe="")} if password else {}
