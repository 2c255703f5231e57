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
import html
import json
import os
import re
import threading
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import quote, quote_plus, unquote

__all__ = ["Redactor", "MASK", "is_secret_name", "redactor", "local_secrets"]

MASK = "***"

_SECRET_NAME = re.compile(
    r"(PASSW(OR)?D|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTHORIZATION|COOKIE)",
    re.IGNORECASE)
# Names that match the pattern above but hold no secret.
_NOT_SECRET = {"AWS_ACCESS_KEY_ID", "ANTHROPIC_AUTH_HEADER_NAME", "GIT_ASKPASS", "SSH_AUTH_SOCK",
               "DBUS_SESSION_BUS_ADDRESS", "XDG_SESSION_ID", "XDG_SESSION_TYPE", "XDG_SESSION_CLASS",
               "XDG_SESSION_DESKTOP", "SESSION_MANAGER", "DESKTOP_SESSION", "XAUTHORITY"}

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # user:password@ in any URL-ish text (scheme optional): keep the user, mask the password up to the last @
    # before the host (a password holding an unencoded @ or # is still the password: "p@ss#word@host").
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/?#@\"'<>]*):([^\s/\"'<>]{0,256})@"), r"\1:" + MASK + "@"),
    # Header lines and JSON/Python repr forms of sensitive headers.
    (re.compile(r"(?i)\b((?:proxy-)?authorization|x-api-key|api-key|x-goog-api-key|cookie|set-cookie)"
                r"(\s*[:=]\s*|\"\s*:\s*\"|'\s*:\s*')([^\r\n\"']+)"), r"\1\2" + MASK),
    # A token, not a word: it holds a digit, + / =, or a lower-upper case change ("Basic Constraints" stays).
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9+/=._~-]{8,}"), r"\1 " + MASK),
    (re.compile(r"\b([Bb]asic|BASIC|NTLM|[Nn]egotiate|[Dd]igest)\s+"
                r"(?=[A-Za-z0-9+/=._~-]*(?:[0-9+/=]|[a-z][A-Z]))[A-Za-z0-9+/=._~-]{8,}"), r"\1 " + MASK),
    (re.compile(r"\bsk-ant-[A-Za-z0-9_-]{8,}"), MASK),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), MASK),
    # KEY=value assignments of secret-looking variables (env dumps, shell profiles).
    (re.compile(r"(?i)\b([A-Z0-9_]*(?:PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_KEY|APIKEY|ACCESS_KEY)[A-Z0-9_]*)"
                r"(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s\"',}]+)"), r"\1\2" + MASK),
    # The same in JSON and Python reprs: "ANTHROPIC_AUTH_TOKEN": "value" (settings.json env blocks).
    (re.compile(r"(?i)([\"'][A-Z0-9_-]*(?:PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_KEY|APIKEY|API-KEY|ACCESS_KEY)"
                r"[A-Z0-9_-]*[\"']\s*:\s*)(\"[^\"]*\"|'[^']*')"), r"\1" + '"' + MASK + '"'),
    # .netrc "password X"
    (re.compile(r"(?im)((?:^\s*|\blogin\s+\S+\s+)password\s+)(\S+)"), r"\1" + MASK),
)


_SURROGATE = re.compile("[\ud800-\udfff]")
_LETTERS = re.compile(r"[A-Za-z]+")
_NAME_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,80}")
# Text a word-like secret may follow directly and still be itself: a %XX escape, a JSON or repr escape.
_ESCAPED_BEFORE = r"(?<=%[0-9A-Fa-f]{2})|(?<=\\[ntrbf])"


def _alternative(secret: str) -> str:
    """The regex for one remembered form.  A form made only of letters (a password that is a word: ``proxy``,
    ``lab``, ``welcome``) is masked as a whole token, not inside a longer name: substring masking turned
    ``https_proxy`` into ``https_***`` in a fix and ``pytest-proxydiag`` into ``pytest-***diag``, and a host name
    holding it (the company's name) into ``proxy.***.example`` in the commands to run.  After a %XX
    or a backslash escape it is masked still (``%3Aproxy%40`` is the password in an encoded URL).  Every other
    form (a digit or a sign in it) is masked wherever it appears."""
    text = re.escape(secret)
    if secret.isascii() and secret.isdigit():
        # A run of digits (the "2026" of an unencoded "Summer@2026"): not inside a date (2026-12-01), a version
        # or an address (127.0.0.1), which it turned into ***-12-01 and broke the report's times.
        return rf"(?<![A-Za-z0-9_])(?<!\d-)(?<![A-Za-z0-9]\.){text}(?![A-Za-z0-9_])(?!-\d)(?!\.[A-Za-z0-9])"
    if not _LETTERS.fullmatch(secret):
        return text
    # Nor as a label of a host name (api.anthropic.com, proxy.corp.example): ".x" after it or "x." before it.
    return rf"(?:(?<![A-Za-z0-9_])(?<![A-Za-z0-9]\.)|{_ESCAPED_BEFORE}){text}(?![A-Za-z0-9_])(?!\.[A-Za-z0-9])"


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
                forms = {s, quote(s, safe=""), quote_plus(s), quote(s), quote(s, safe="@:"),
                         # As the secret appears inside HTML (pytest-html's data-jsonblob), JSON and reprs.
                         html.escape(s), html.escape(html.escape(s)), json.dumps(s)[1:-1],
                         html.escape(json.dumps(s)[1:-1]), repr(s)[1:-1]}
                raw = s.encode()
                b64 = base64.b64encode(raw).decode()
                # Padding differs with what precedes the secret in a header, so mask the stable core too.
                forms.update({b64, b64.rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")})
                self._secrets.update(f for f in forms if len(f) >= 3)
            self._compiled = None

    def add_env(self, env: Mapping[str, str]) -> None:
        """Remember the values of secret-named variables in *env*, and the password of any URL in it.

        A URL's credentials are secret whatever its variable is called (``ANTHROPIC_BEDROCK_BASE_URL`` of a
        gateway that takes Basic auth becomes the diagnosis's target and so a parameter of every step).
        """
        self.add(*(v for k, v in env.items() if is_secret_name(k)))
        # The password alone (as written and decoded): the user name stays readable, as in a proxy URL.
        passwords = [pw for v in env.values() if isinstance(v, str) and "@" in v for _, pw in _URL_USERINFO.findall(v)]
        self.add(*passwords, *map(unquote, passwords))

    def add_credentials_pair(self, user: str | None, password: str | None) -> None:
        """Remember a password and the ``user:password`` base64 a Basic header would carry."""
        if password:
            self.add(password)
            if user is not None:
                self.add(f"{user}:{password}")
            # A client that mis-parses an unencoded password quotes the pieces between its
            # special characters ("Invalid port: 'Summer2024'"): mask those pieces too.
            self.add(*(piece for piece in re.split(r"[@:/?#\[\] %\\]", password) if piece != password))

    def add_local_secrets(self, env: Mapping[str, str], *, litellm_config: str | None = None,
                          cwd: str | os.PathLike | None = None) -> None:
        """Remember the secrets of files the diagnosis reads (see :func:`local_secrets`)."""
        self.add(*local_secrets(env, litellm_config=litellm_config, cwd=cwd))

    @property
    def known(self) -> frozenset[str]:
        """Every remembered form (for final scrubbing of files other plugins wrote)."""
        with self._lock:
            return frozenset(self._secrets)

    def redact_known(self, text: str) -> str:
        """Mask only remembered secrets: safe on structured text (HTML, XML) the patterns could reshape."""
        pat = self._pattern()
        return pat.sub(MASK, text) if pat is not None and text else text

    def _pattern(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._compiled is None and self._secrets:
                alts = sorted(self._secrets, key=len, reverse=True)
                self._compiled = re.compile("|".join(_alternative(a) for a in alts))
            return self._compiled

    def redact(self, text: Any) -> Any:
        """Return *text* with every secret masked; non-strings pass through."""
        if isinstance(text, bytes):
            return self.redact(text.decode("utf-8", "replace"))
        if not isinstance(text, str) or not text:
            return text
        if _SURROGATE.search(text):
            # Non-UTF-8 bytes from the environment (surrogate escapes) cannot be written to any report.
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        pat = self._pattern()
        if pat is not None:
            # Twice: a word-like secret glued to another masked form stands alone only after the first pass.
            text = pat.sub(MASK, pat.sub(MASK, text))
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
                # A key that is a name (a JSON field, a variable: "proxy", "https_proxy") stays whole even when a
                # password is that word: masking it broke the report ("No proxy is configured") and wrote
                # "export https_***=" into fixes.  Values are masked as ever; other keys through the patterns too.
                key = (k if _NAME_KEY.fullmatch(k) else self.redact(k)) if isinstance(k, str) else k
                if isinstance(k, str) and is_secret_name(k) and isinstance(v, str) and v:
                    out[key] = MASK
                else:
                    out[key] = self.redact_obj(v)
            return out
        if isinstance(obj, (list, tuple)):
            return [self.redact_obj(v) for v in obj]
        return obj


_MAX_READ = 1024 * 1024
_YAML_SECRET = re.compile(r"(?im)^\s*-?\s*[\"']?([A-Za-z0-9_-]*(?:api_key|apikey|api-key|secret|token|password|passwd)"
                          r"[A-Za-z0-9_-]*)[\"']?\s*[:=]\s*(.+?)\s*$")


def _read(path: Path) -> str:
    try:
        if path.is_file() and path.stat().st_size <= _MAX_READ:
            return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        pass
    return ""


def _secret_values_in_json(obj: Any, out: list[str], key: str = "") -> None:
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            _secret_values_in_json(v, out, str(k))
    elif isinstance(obj, list):
        for v in obj:
            _secret_values_in_json(v, out, key)
    elif isinstance(obj, str) and key and (is_secret_name(key) or key in ("apiKeyHelper", "primaryApiKey")):
        out.append(obj)
    elif isinstance(obj, str):
        out.extend(_url_passwords(obj))


_URL_USERINFO = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://([^\s:/?#@\"'<>]*):([^\s/\"'<>]{1,256})@")


def _url_passwords(text: str) -> list[str]:
    """Passwords of ``scheme://user:password@host`` URLs in *text*, and their ``user:password`` pairs."""
    out = []
    for user, password in _URL_USERINFO.findall(text):
        out += [password, f"{user}:{password}", unquote(password), f"{unquote(user)}:{unquote(password)}"]
    return out


def local_secrets(env: Mapping[str, str], *, litellm_config: str | None = None,
                  cwd: str | os.PathLike | None = None) -> list[str]:
    """Secret values in the files the diagnosis (or a client it runs) reads.

    ``.netrc`` passwords, the ``env`` and key fields of Claude Code's
    settings files, API keys in a LiteLLM config and in ``~/.aws/credentials``.
    Read only, bounded, never raises: a file that cannot be read has no
    secrets to hide.
    """
    found: list[str] = []
    home = Path(env.get("HOME") or os.path.expanduser("~"))
    here = Path(cwd) if cwd else Path.cwd()
    netrcs = [Path(env["NETRC"]).expanduser()] if env.get("NETRC") else []
    netrcs += [home / ".netrc", home / "_netrc"]
    for path in netrcs:
        tokens = _read(path).split()
        login = None
        for i, tok in enumerate(tokens[:-1]):
            if tok == "login":
                login = tokens[i + 1]
            elif tok in ("password", "account"):
                found.append(tokens[i + 1])
                if login is not None:
                    # What a Basic header built from this entry carries, base64-encoded.
                    found.append(f"{login}:{tokens[i + 1]}")
    for path in (home / ".claude" / "settings.json", home / ".claude" / "settings.local.json",
                 home / ".claude.json", here / ".claude" / "settings.json",
                 here / ".claude" / "settings.local.json"):
        text = _read(path)
        if not text:
            continue
        try:
            _secret_values_in_json(json.loads(text), found)
        except ValueError:
            found.extend(m.group(2).strip("\"',") for m in _YAML_SECRET.finditer(text))
    configs = [Path(p).expanduser() for p in (litellm_config, env.get("LITELLM_CONFIG")) if p]
    configs += [here / "config.yaml", home / ".aws" / "credentials"]
    for path in configs:
        text = _read(path)
        found.extend(_url_passwords(text))
        for m in _YAML_SECRET.finditer(text):
            value = m.group(2).split(" #", 1)[0].strip().strip("\"'")
            # "os.environ/ANTHROPIC_API_KEY" names a variable; the variable itself is masked by name.
            if value and not value.startswith("os.environ/"):
                found.append(value)
    return [v for v in dict.fromkeys(found) if v and len(v) >= 3]


#: Process-wide fallback used by code that runs outside a pytest session.
redactor = Redactor()
