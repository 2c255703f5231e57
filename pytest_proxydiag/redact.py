"""The one redaction layer every output goes through.

Two nets, because either alone leaks:

* **known secrets** — values this run has read (the proxy password, API keys
  from the environment, ``.netrc`` passwords, tokens in settings files) are
  replaced wherever they appear, in plain, percent-encoded and base64 forms;
* **patterns** — credentials in URLs, ``Authorization``/``Proxy-Authorization``
  headers, ``x-api-key``, cookies, bearer tokens and NTLM/Negotiate blobs are
  masked even when the value was never seen before (a proxy echoing headers).

``Redactor.redact(text)`` is idempotent and never raises.
"""

from __future__ import annotations

import base64
import re
import threading
from typing import Any, Iterable, Mapping
from urllib.parse import quote, quote_plus

__all__ = ["Redactor", "MASK", "is_secret_name", "redactor"]

MASK = "***"

_SECRET_NAME = re.compile(
    r"(PASSW(OR)?D|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTHORIZATION|COOKIE)",
    re.IGNORECASE)
# Names that match the pattern above but hold no secret.
_NOT_SECRET = {"AWS_ACCESS_KEY_ID", "ANTHROPIC_AUTH_HEADER_NAME", "GIT_ASKPASS", "SSH_AUTH_SOCK",
               "DBUS_SESSION_BUS_ADDRESS", "XDG_SESSION_ID", "XDG_SESSION_TYPE", "XDG_SESSION_CLASS",
               "XDG_SESSION_DESKTOP", "SESSION_MANAGER", "DESKTOP_SESSION", "XAUTHORITY"}

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # user:password@ in any URL-ish text (scheme optional): keep the user, mask the password.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/?#@\"'<>]*):([^\s@\"'<>]*)@"), r"\1:" + MASK + "@"),
    # Header lines and JSON/Python repr forms of sensitive headers.
    (re.compile(r"(?i)\b((?:proxy-)?authorization|x-api-key|api-key|x-goog-api-key|cookie|set-cookie)"
                r"(\s*[:=]\s*|\"\s*:\s*\"|'\s*:\s*')([^\r\n\"']+)"), r"\1\2" + MASK),
    (re.compile(r"(?i)\b(bearer|basic|ntlm|negotiate|digest)\s+[A-Za-z0-9+/=._~-]{8,}"), r"\1 " + MASK),
    (re.compile(r"\bsk-ant-[A-Za-z0-9_-]{8,}"), MASK),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), MASK),
    # KEY=value assignments of secret-looking variables (env dumps, shell profiles).
    (re.compile(r"(?i)\b([A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|ACCESS_KEY)[A-Z0-9_]*)"
                r"(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s\"',}]+)"), r"\1\2" + MASK),
    # .netrc "password X"
    (re.compile(r"(?im)((?:^\s*|\blogin\s+\S+\s+)password\s+)(\S+)"), r"\1" + MASK),
)


def is_secret_name(name: str) -> bool:
    """True when an environment variable or key named *name* holds a secret."""
    upper = name.upper()
    if upper in _NOT_SECRET:
        return False
    return bool(_SECRET_NAME.search(upper))


class Redactor:
    """Masks known secrets and secret-shaped text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._compiled: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        """Remember secret values (and their encoded forms) to mask them anywhere."""
        with self._lock:
            for s in secrets:
                if not s or not isinstance(s, str) or len(s) < 3:
                    # Two-character "secrets" would mask half the report.
                    continue
                forms = {s, quote(s, safe=""), quote_plus(s), quote(s)}
                try:
                    forms.add(base64.b64encode(s.encode()).decode())
                except Exception:  # pragma: no cover
                    pass
                self._secrets.update(f for f in forms if len(f) >= 3)
            self._compiled = None

    def add_env(self, env: Mapping[str, str]) -> None:
        """Remember the values of secret-named variables in *env*."""
        self.add(*(v for k, v in env.items() if is_secret_name(k)))

    def add_credentials_pair(self, user: str | None, password: str | None) -> None:
        """Remember a password and the ``user:password`` base64 a Basic header would carry."""
        if password:
            self.add(password)
            if user is not None:
                self.add(f"{user}:{password}")

    def _pattern(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._compiled is None and self._secrets:
                alts = sorted(self._secrets, key=len, reverse=True)
                self._compiled = re.compile("|".join(re.escape(a) for a in alts))
            return self._compiled

    def redact(self, text: Any) -> Any:
        """Return *text* with every secret masked; non-strings pass through."""
        if isinstance(text, bytes):
            return self.redact(text.decode("utf-8", "replace"))
        if not isinstance(text, str) or not text:
            return text
        pat = self._pattern()
        if pat is not None:
            text = pat.sub(MASK, text)
        for rx, repl in _PATTERNS:
            text = rx.sub(repl, text)
        return text

    __call__ = redact

    def redact_obj(self, obj: Any) -> Any:
        """Redact every string inside a JSON-like structure (keys included)."""
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, Mapping):
            out = {}
            for k, v in obj.items():
                key = self.redact(k) if isinstance(k, str) else k
                if isinstance(k, str) and is_secret_name(k) and isinstance(v, str) and v:
                    out[key] = MASK
                else:
                    out[key] = self.redact_obj(v)
            return out
        if isinstance(obj, (list, tuple)):
            return [self.redact_obj(v) for v in obj]
        return obj


#: Process-wide fallback used by code that runs outside a pytest session.
redactor = Redactor()
