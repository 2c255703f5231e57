"""Symptom triage: the corpus of real messages, the held-out paraphrases, hostile input, secrets, input reading."""

from __future__ import annotations

import io
import json
import os
import random
import re
import string
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_proxydiag.core.redact import Redactor
from pytest_proxydiag.triage import (
    BRANCHES, MAX_SELECTED, MAX_SYMPTOM_BYTES, RULES, SymptomInputError, Triage, classify, read_symptom,
    select_items,
)

#: The tuning part: rules may be written from these messages (and must classify every one right).
CORPUS_PATH = Path(__file__).parent / "data" / "symptoms.json"
CORPUS = json.loads(CORPUS_PATH.read_text(encoding="utf-8"))
#: The held-out part: real messages from public issue threads that no rule was written from.  It
#: grows with new messages (add them here, labels fixed, before looking at how they classify).  A
#: miss may point to a general pattern (a client's vocabulary) that a rule then covers; the message
#: stays here and still counts, so the figure never improves by removing what it missed.
HELD_OUT_PATH = Path(__file__).parent / "data" / "symptoms_heldout.json"
HELD_OUT_CORPUS = json.loads(HELD_OUT_PATH.read_text(encoding="utf-8"))
#: Issue 16's target for the held-out figure: not met yet (see the strict xfail below).
HELD_OUT_TARGET = 0.95
#: What the held-out figure must not fall under: a regression floor a little under the 61.0% measured
#: after the part was last extended.  Batches measured on first sight: 24/25, 15/17, 6/13, 21/24, 12/15,
#: 23/41 (0/13 gateway messages, a branch triage could not choose yet), 22/34 (14 of them bypass: Docker
#: daemons, npm and gRPC going direct, local addresses sent to the proxy), 10/16 (the 6 misses bypass), then
#: seven batches collected blind by engineers who never saw the rules, each labelled from its thread's
#: resolution and measured before any rule was written after it: 27/49, 21/47, 23/48, 20/51, 13/50, 21/50
#: and 19/50.  The sixth was measured twice: 20/50 before a tuning round of 61 new pastes and 30 rules, 21/50
#: after it (the round's rules, aligned with the settled application/bypass order, cost 5 of the older
#: held-out labels).  The seventh (19/50; 23/50 with the right first branch, the cause's branch run first for
#: 37/50) took the part from 294/470 to 313/520; tuning round 15's rules (written blind to this part) then
#: took it to 317/520.  The first eight batches were gathered to probe patterns; the
#: last seven are what a new paste meets (under half right with every branch it needs).  A second labeller
#: agrees with the first on only 74 of 100 first branches
#: (test_a_second_labeller_bounds_what_the_held_out_figure_can_say).
HELD_OUT_FLOOR = 0.59

#: Issue 8 lists these wordings; they must stay in the corpus verbatim.
ISSUE_8_WORDINGS = (
    "curl: (56) CONNECT tunnel failed, response 407",
    "curl: (60) SSL certificate problem: self-signed certificate in certificate chain",
    "(7) Failed to connect",
    "(28) Connection timed out",
    "(5) Could not resolve proxy",
    "ProxyError('Unable to connect to proxy', OSError('Tunnel connection failed: 407 Proxy Authentication Required'))",
    "SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED]...",
    "APIConnectionError", "ConnectError", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "fetch failed", "litellm.APIConnectionError", "Timeout",
    "Unable to connect to API: Self-signed certificate detected. Check your proxy or corporate SSL certificates",
    "API Error (Connection error.) · Retrying in 4 seconds… (\nattempt 4/10)",
    "API Error: Error: unable to get issuer certificate",
    "Received HTTP code 407 from proxy after CONNECT",
    "Basic Constraints of CA cert not marked critical",
    "anthropic.APIConnectionError: Connection error.",
)


def _short(text: str) -> str:
    return re.sub(r"\s+", " ", text)[:60]


# -- the corpus ------------------------------------------------------------------
def _well_formed(entry: dict) -> None:
    assert set(entry) == {"text", "expected", "source"}, entry
    assert entry["text"] and entry["source"]
    assert entry["expected"] and len(entry["expected"]) <= MAX_SELECTED
    assert all(b in BRANCHES for b in entry["expected"]), entry
    assert len(set(entry["expected"])) == len(entry["expected"]), entry


def _real_and_apart(part: list[dict], *others: list[dict]) -> None:
    """Each entry well formed and a real paste (it names the public thread it was taken from), no text twice, and
    none in the *others* (the tuning part, ...)."""
    for entry in part:
        _well_formed(entry)
        assert entry["source"].startswith("https://"), entry
    texts = [e["text"] for e in part]
    assert len(set(texts)) == len(texts), "duplicate texts"
    for other in others:
        shared = set(texts) & {e["text"] for e in other}
        assert not shared, f"{len(shared)} text(s) in two parts: {[_short(t) for t in shared]}"


def test_held_out_part_is_real_and_apart_from_the_tuning_part():
    assert len(HELD_OUT_CORPUS) >= 25
    _real_and_apart(HELD_OUT_CORPUS, CORPUS)


def test_corpus_is_large_and_well_formed():
    assert len(CORPUS) >= 60
    for entry in CORPUS:
        _well_formed(entry)
    texts = {e["text"] for e in CORPUS}
    assert len(texts) == len(CORPUS), "duplicate corpus texts"
    missing = [w for w in ISSUE_8_WORDINGS if w not in texts]
    assert not missing, f"issue 8 wordings missing from the corpus: {missing}"
    # Every branch is the most likely answer for some real message.
    assert {e["expected"][0] for e in CORPUS} == set(BRANCHES)


@pytest.mark.parametrize("entry", CORPUS, ids=[f"{i:03d}-{_short(e['text'])[:30]}" for i, e in enumerate(CORPUS)])
def test_corpus_message_selects_its_branches(entry):
    result = classify(entry["text"])
    expected = entry["expected"]
    detail = f"{entry['text']!r} ({entry['source']}): got {result.branches}, scores {result.scores}"
    assert not result.ambiguous, detail
    assert result.branches[0] == expected[0], detail
    assert set(expected) <= set(result.branches), detail
    assert len(result.branches) <= MAX_SELECTED, detail
    # One sentence per selected branch, naming it, most likely first.
    for branch in result.branches:
        assert f"-> {branch} (" in result.explanation, detail
    assert result.explanation.index(f"-> {result.branches[0]} (most likely)") == result.explanation.index("->")


def _accuracy(corpus: list[dict]) -> tuple[int, list[str]]:
    """How many entries classify right, and a line for each miss."""
    misses = []
    for entry in corpus:
        result = classify(entry["text"])
        if not _is_right(result, entry["expected"]):
            misses.append(f"{_short(entry['text'])!r}: expected {entry['expected']}, got {list(result.branches)} "
                          f"({entry['source']})")
    return len(corpus) - len(misses), misses


def _figure(name: str, right: int, total: int) -> str:
    return f"{name}: {right}/{total} right ({100 * right / total:.1f}%)"


def test_corpus_score_is_100_percent(record_property):
    """The tuning part: the rules were written from it, so every message is classified right."""
    right, misses = _accuracy(CORPUS)
    # tests/conftest.py prints every "triage accuracy" property in the terminal summary.
    record_property("triage accuracy", _figure("triage tuning part (symptoms.json)", right, len(CORPUS)))
    assert not misses, "\n".join(misses)


def test_held_out_real_messages_stay_above_the_floor(record_property):
    """The held-out part: real messages no rule was written from.  Measured, not tuned."""
    right, misses = _accuracy(HELD_OUT_CORPUS)
    record_property("triage accuracy", _figure("triage held-out part (symptoms_heldout.json)", right,
                                               len(HELD_OUT_CORPUS)))
    for miss in misses:
        record_property("triage held-out miss", miss)
    record_property("triage accuracy", _cause_ran_figure(HELD_OUT_CORPUS))
    assert right / len(HELD_OUT_CORPUS) > HELD_OUT_FLOOR, "\n".join(misses)


#: A second labeller's labels for a random 100 of the held-out part, given only each text and its thread's
#: URL (neither the first labels nor the rules), following docs/triage-corpus.md.
SECOND_LABELS = json.loads((Path(__file__).parent / "data" / "symptoms_heldout_second_labels.json")
                           .read_text(encoding="utf-8"))


def test_a_second_labeller_bounds_what_the_held_out_figure_can_say(record_property):
    """The labels are judgements from a thread: two labellers split where the conventions meet (a client
    with no proxy support that went direct: application or bypass first?).  Their agreement is the ceiling
    any classifier meets on these labels; the tests print it next to triage's own score on the same texts."""
    first_labels = {e["text"]: e["expected"] for e in HELD_OUT_CORPUS}
    pairs = [(first_labels[e["text"]], e["expected"]) for e in SECOND_LABELS if e["text"] in first_labels]
    assert len(pairs) == len(SECOND_LABELS) >= 100, "a relabelled message left the held-out part"
    for entry in SECOND_LABELS:
        _well_formed({"text": entry["text"], "expected": entry["expected"], "source": "https://second-labeller"})
    n = len(pairs)
    first = sum(a[0] == b[0] for a, b in pairs)
    same = sum(a == b for a, b in pairs)
    overlap = sum(a[0] in b or b[0] in a for a, b in pairs)
    right = sum(_is_right(classify(e["text"]), first_labels[e["text"]]) for e in SECOND_LABELS)
    record_property("triage accuracy",
                    f"held-out labels, a second labeller on {n} of them: same first branch {first}/{n}, same "
                    f"labels {same}/{n}, one's first branch among the other's {overlap}/{n}; triage right "
                    f"on the same {n}: {right}/{n}")
    # The comparison means something only while the two disagree less than they agree.
    assert first > n // 2


def _cause_ran_figure(corpus: list[dict]) -> str:
    """What a user meets: whether the branch of the cause ran in the first pass (a run of every branch
    includes it).  Otherwise the other branches' steps run after the chosen ones where they can still
    change the root cause: a miss costs time, not the diagnosis.
    """
    results = [(classify(e["text"]), e["expected"][0]) for e in corpus]
    ran = sum(r.ambiguous or cause in r.branches for r, cause in results)
    everything = sum(r.ambiguous for r, _ in results)
    narrowed = [len(r.branches) for r, _ in results if not r.ambiguous]
    return (f"triage held-out part: the cause's branch ran first for {ran}/{len(corpus)} "
            f"({100 * ran / len(corpus):.1f}%; "
            f"{everything} of them ran every branch; a narrowed run kept {sum(narrowed) / len(narrowed):.1f} "
            f"of {len(BRANCHES)} branches on average)")


@pytest.mark.xfail(strict=True, reason="issue 16: the held-out figure is 317/520 (61.0%), under the 95% target. "
                   "Seven blind batches scored 27/49, 21/47, 23/48, 20/51, 13/50, 21/50 and 19/50 on first sight (the "
                   "sixth 20/50 before a tuning round and 21/50 after it), and two labellers reading the same threads "
                   "agree on the first branch of only 74 of 100 held-out messages: most misses carry no sign of "
                   "their cause in the text, or their label is a judgement the text cannot show (a client lacking "
                   "a proxy feature, labelled application, failing with a plain 407). Triage's branches therefore "
                   "run first and the others where they can change the root cause. When this passes, remove the "
                   "marker.")
def test_held_out_real_messages_reach_the_target():
    right, misses = _accuracy(HELD_OUT_CORPUS)
    assert right / len(HELD_OUT_CORPUS) > HELD_OUT_TARGET, "\n".join(misses)


def _is_right(result: Triage, expected: list[str]) -> bool:
    return (not result.ambiguous and result.branches[0] == expected[0] and set(expected) <= set(result.branches)
            and len(result.branches) <= MAX_SELECTED)


# -- paraphrases written before running them, never used to tune the rules ---------------------------
PARAPHRASES = (
    ("Error: Proxy returned 407 — authentication needed", ["auth"]),
    ("The corporate proxy keeps rejecting my login (407)", ["auth"]),
    ("connect ECONNREFUSED 10.0.0.5:3128", ["connectivity"]),
    ("Could not reach proxy.corp.local:8080 – connection timed out after 30s", ["connectivity"]),
    ("requests.exceptions.SSLError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local "
     "issuer certificate (_ssl.c:1006)", ["certificate"]),
    ("Error: self-signed certificate in certificate chain", ["certificate"]),
    ("The proxy answered 403 Forbidden when calling api.anthropic.com", ["policy"]),
    ("Access to this site is blocked by your organization's policy (Netskope)", ["policy"]),
    ("curl gets through the proxy fine, but the Python SDK fails", ["application"]),
    ("Responses are really slow since we went through the new proxy, 30 seconds per request", ["performance"]),
    ("Rate limit exceeded, please retry later (429)", ["performance"]),
    ("Traffic doesn't seem to go through the proxy at all — nothing in the proxy logs", ["bypass"]),
    ("Error: getaddrinfo ENOTFOUND proxy.internal", ["connectivity"]),
    ("urllib3.exceptions.MaxRetryError: (Caused by ProxyError('Cannot connect to proxy.', RemoteDisconnected('Remote "
     "end closed connection without response')))", ["connectivity"]),
    ("Zertifikatsfehler: unbekannte Zertifizierungsstelle", ["certificate"]),
    ("プロキシサーバーに接続できません (タイムアウト)", ["connectivity"]),
    ("HTTP 502 from the gateway when sending a request", ["policy"]),
    ("SSL: WRONG_VERSION_NUMBER when HTTPS_PROXY=https://proxy:8080", ["connectivity", "certificate"]),
    ("The stream stalls halfway and then the whole answer appears in one go", ["performance"]),
    ("NO_PROXY includes .anthropic.com so requests skip the proxy", ["bypass"]),
)


def test_paraphrases(record_property):
    """Reported, not tuned: the floor only catches a collapse of the rules."""
    right, misses = _accuracy([{"text": t, "expected": e, "source": "paraphrase"} for t, e in PARAPHRASES])
    record_property("triage accuracy", _figure("triage paraphrases (written, not pasted)", right, len(PARAPHRASES)))
    assert right >= len(PARAPHRASES) // 2, "\n".join(misses)


#: Real pastes gathered with a tuning round whose cause the text does not show (a Gradle user's "Maven just
#: works", a 403 that was localhost sent to the proxy, a path-MTU reset), or whose label meets an older one on
#: the same words (a .NET 407 labelled auth there, application first here).  They stay out of the tuning part
#: so no rule is copied from their words; the figure is reported, never tuned.
NO_SIGN_PATH = Path(__file__).parent / "data" / "symptoms_no_sign.json"
NO_SIGN = json.loads(NO_SIGN_PATH.read_text(encoding="utf-8"))


def test_pastes_without_a_sign_are_real_and_apart_from_the_tuning_part(record_property):
    # Apart from the held-out part too: 5 of the first 20 were held-out texts gathered again from the same threads.
    _real_and_apart(NO_SIGN, CORPUS, HELD_OUT_CORPUS)
    right, _misses = _accuracy(NO_SIGN)
    record_property("triage accuracy", _figure("triage pastes without a sign of their cause (symptoms_no_sign.json)",
                                               right, len(NO_SIGN)))


# -- the rule table --------------------------------------------------------------
def test_rule_table_covers_every_branch_and_compiles():
    assert {r.branch for r in RULES if r.weight > 0} == set(BRANCHES)
    for rule in RULES:
        assert rule.note, rule
        assert -5 <= rule.weight <= 5 and rule.weight != 0, rule
        re.compile(rule.pattern)
        # Matching is done on lower-cased text: upper-case escapes would change meaning.
        assert not re.search(r"\\[A-Z]", rule.pattern), rule.pattern


DER_CA = "export NODE_EXTRA_CA_CERTS=/etc/pki/corp-root.der\nAPI Error: Unable to connect to API (ConnectionRefused)"


def test_several_branches_can_match_and_are_ranked():
    result = classify(DER_CA)
    assert result.branches == ("connectivity", "certificate")
    assert result.scores["connectivity"] > result.scores["certificate"] > 0
    assert result.marker_expression() == "connectivity or certificate"
    assert "NODE_EXTRA_CA_CERTS" in result.explanation


def test_a_proxy_that_answered_is_reachable():
    """A status in the CONNECT answer proves the proxy is up: the status decides the branch."""
    assert classify("curl: (56) CONNECT tunnel failed, response 407").branches == ("auth",)
    assert classify("ProxyError('Cannot connect to proxy.', OSError('Tunnel connection failed: 403 Forbidden'))"
                    ).branches[0] == "policy"


def test_tls_error_to_a_proxy_keeps_both_connectivity_and_certificate():
    result = classify("ProxyError('Unable to connect to proxy', SSLError(SSLEOFError(8, 'EOF occurred in violation of "
                      "protocol (_ssl.c:1006)')))")
    assert result.branches[:2] == ("connectivity", "certificate")


def test_who_sent_the_413_matters():
    api = classify('API Error: 413 {"error":{"type":"request_too_large","message":"Request exceeds the maximum size"}}')
    proxy = classify("<html><head><title>413 Request Entity Too Large</title></head><body><center><h1>413 Request "
                     "Entity Too Large</h1></center><hr><center>nginx</center></body></html>")
    assert api.branches[0] == "application" and "policy" not in api.branches
    assert proxy.branches == ("policy",)
    assert "provider" in api.explanation


@pytest.mark.parametrize("text", [
    # LiteLLM's own key check: the gateway's key, not the provider's and not the proxy's credentials.
    '{"error":{"message":"Authentication Error, Invalid proxy server token passed. valid_token=None.",'
    '"type":"auth_error","param":"None","code":"401"}}',
    "Exception: No connected db.",
    "Token not allowed to access model",
    "Your gateway couldn't serve anthropic/claude-3-haiku.",
])
def test_the_gateways_own_answers_select_the_gateway_branch(text):
    result = classify(text)
    assert result.branches[0] == "gateway", result.scores
    assert "auth" not in result.branches
    assert "-> gateway (most likely)" in result.explanation


def test_the_gateways_egress_error_names_the_gateway_and_the_cause_it_quotes():
    cert = classify("litellm.APIConnectionError: AnthropicException - [SSL: CERTIFICATE_VERIFY_FAILED] certificate "
                    "verify failed: self-signed certificate in certificate chain (_ssl.c:1028)")
    assert cert.branches[0] == "certificate" and "gateway" in cert.branches
    down = classify("litellm.APIConnectionError: Cannot connect to host 127.0.0.1:11434 ssl:default")
    assert down.branches[:2] == ("gateway", "connectivity")
    # The gateway itself is down: Claude Code cannot connect to ANTHROPIC_BASE_URL (connectivity.gateway).
    unreachable = classify("ANTHROPIC_BASE_URL=http://litellm.corp:4000\nAPI Error: Connection refused (ECONNREFUSED)")
    assert unreachable.branches == ("connectivity", "gateway")


def test_gateway_traffic_sent_to_the_proxy_is_the_gateways_route():
    result = classify("NO_PROXY is ignored: the proxy is used for my ANTHROPIC_BASE_URL=https://llm.corp.example")
    assert result.branches[:2] == ("gateway", "bypass")
    # NO_PROXY alone (no gateway in sight) stays a bypass question; a 502 page's "Bad Gateway" is no gateway.
    assert classify("NO_PROXY=localhost,127.0.0.1,,.anthropic.com,*").branches[0] == "bypass"
    assert "gateway" not in classify("no_proxy=localhost\nHTTP/1.1 502 Bad Gateway").branches


def test_a_gateways_own_limits_are_the_gateway_not_the_path():
    # A gateway refusing on its own (a budget, an empty pool of upstream credentials) is not a rate limit or a timeout.
    budget = classify('Error: 429 No deployments available - crossed budget: Exceeded budget for deployment')
    assert budget.branches[0] == "gateway", budget.scores
    pool = classify("503 auth_unavailable: no auth available (providers=codex, model=gpt-5.4)")
    assert pool.branches[0] == "gateway", pool.scores
    # The gateway's own timeout cut the answer: the gateway first, the slow answer second.
    own = classify("Provider request timed out after 120s.")
    assert own.branches[:2] == ("gateway", "performance"), own.scores


def test_a_fixed_time_limit_is_performance_and_a_connect_timeout_is_not():
    for text in ("requests fail after ~60 s with a 504", "everytime the process last more than 120 secs it fails",
                 "上游 API 响应超过 60 秒时报错", "Error 524: A timeout occurred"):
        assert classify(text).branches[0] == "performance", text
    # The same fixed time on a connect timeout is the connect phase: the proxy or the route is silent.
    for text in ("curl: (28) Connection timed out after 30001 milliseconds",
                 "upstream timed out (110: Connection timed out) while connecting to upstream"):
        assert classify(text).branches[0] == "connectivity", text


def test_a_buffered_stream_is_performance_in_each_language():
    for text in ("the text is returned in 3 blocks instead of streaming", "流式输出是一段一段的，不是一个字一个字",
                 "变成了等待AI回答完再一次性全部返回", "ストリーミングの応答がまとめて表示される"):
        assert classify(text).branches[0] == "performance", text


def test_generic_connection_failure_keeps_auth_in_play():
    for text in ("TypeError (fetch failed)", "API Error (Connection error.)", "anthropic.APIConnectionError"):
        assert "auth" in classify(text).branches, text


def test_status_numbers_need_to_stand_alone():
    # Line numbers, ports and C source positions are not HTTP statuses.
    for text in ('File "adapters.py", line 407, in send', "proxy.corp:4070", "_ssl.c:1403", "see #403"):
        result = classify(text)
        assert result.scores["auth"] <= 0 and result.scores["policy"] <= 0, (text, result.scores)


# -- real paste shapes -----------------------------------------------------------
@pytest.mark.parametrize("text, first", [
    ("Tunnel connectio\nn failed: 407 Proxy Authentication Required", "auth"),
    ("connectio\r\nn refused", "connectivity"),
    ("CERTIFICATE_VERIF\nY_FAILED", "certificate"),
    ("  ⎿  API Error (Connection error.) · Retrying in 4 seconds… (attempt 4/10)\n    ⎿  Error (self signed "
     "certificate in certificate chain) (SELF_SIGNED_CERT_IN_CHAIN)", "certificate"),
    ("Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by "
     "'ProxyError('Cannot connect to proxy.', OSError('Tunnel connection failed: 403 Forbidden'))'", "policy"),
    ("CONNECT TUNNEL FAILED, RESPONSE 407", "auth"),
    ("\x1b[31merror\x1b[0m: connect \x1b[1mECONNREFUSED\x1b[0m 127.0.0.1:3128", "connectivity"),
    ("Verbindung abgelehnt", "connectivity"),
    ("Zeitüberschreitung", "connectivity"),
    ("証明書の検証に失敗しました", "certificate"),
    ("接続が拒否されました", "connectivity"),
])
def test_paste_shapes(text, first):
    assert classify(text).branches[0] == first


def test_whole_html_error_page():
    page = ("<!DOCTYPE html><html><head><title>ERROR: The requested URL could not be retrieved</title></head><body>"
            "<h1>ERROR</h1><h2>The requested URL could not be retrieved</h2><p>Access control configuration prevents "
            "your request from being allowed at this time.</p><p>Generated by proxy.corp (squid/5.7)</p>"
            "<!-- ERR_ACCESS_DENIED --></body></html>\n") * 3
    assert classify(page).branches[0] == "policy"


# -- unknown, empty and hostile input ---------------------------------------------
@pytest.mark.parametrize("text", [None, "", "   \n\t  ", "hello world", "everything is fine", b"", "\x00\x01\x02"])
def test_no_signal_runs_everything_and_says_so(text):
    result = classify(text)
    assert result.ambiguous
    assert result.branches == BRANCHES
    assert "every branch" in result.explanation
    assert result.marker_expression() == " or ".join(BRANCHES)
    assert "running every branch" in result.headline


def _noise(kind: str, size: int) -> str | bytes:
    rnd = random.Random(kind)
    if kind == "bytes":
        return bytes(rnd.getrandbits(8) for _ in range(size))
    if kind == "words":
        return " ".join("".join(rnd.choices(string.ascii_lowercase, k=rnd.randint(2, 9)))
                        for _ in range(size // 6))[:size]
    # Near-misses: long runs of what the patterns' prefixes look for, the shape that makes
    # a backtracking regex explode.
    unit = {"near-miss": "connection works not going through tunnel 40 proxy-auth time ",
            "digits": "4", "breaks": "x\n"}[kind]
    return (unit * (size // len(unit) + 1))[:size]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["bytes", "words", "near-miss", "digits", "breaks"])
def test_a_mebibyte_of_noise_is_classified_in_bounded_time(kind):
    """No catastrophic backtracking: every pattern is linear (the timeout is a safety net, not a target)."""
    result = classify(_noise(kind, MAX_SYMPTOM_BYTES))
    assert result.branches == BRANCHES if result.ambiguous else 1 <= len(result.branches) <= MAX_SELECTED
    assert len(result.text_excerpt) <= 200
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", result.text_excerpt + result.explanation)


def test_undecodable_argv_bytes_cannot_break_a_utf8_report():
    # Python hands undecodable command-line bytes over as lone surrogates.
    result = classify("curl: (7) Failed to connect \udcff\udcfe to proxy")
    assert result.branches == ("connectivity",)
    json.dumps(result.as_note(), ensure_ascii=False).encode("utf-8")


def test_oversized_text_keeps_head_and_tail():
    text = "curl: (56) CONNECT tunnel failed, response 407\n" + "x" * (3 * MAX_SYMPTOM_BYTES) + "\nECONNREFUSED"
    result = classify(text)
    assert {"auth", "connectivity"} <= set(result.branches)


def test_binary_garbage_from_a_file(tmp_path):
    path = tmp_path / "garbage.bin"
    path.write_bytes(bytes(range(256)) * 64 + b"\xff\xfe\x00\x00" + "ECONNREFUSED".encode("utf-8"))
    text = read_symptom(None, str(path))
    result = classify(text)
    assert result.branches[0] == "connectivity"
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", result.text_excerpt)


# -- secrets ----------------------------------------------------------------------
CANARY = "Canary-7f3e-S3cr3t"


@pytest.mark.parametrize("text", [
    f"HTTPS_PROXY=http://jdoe:{CANARY}@proxy.corp:8080\ncurl: (56) CONNECT tunnel failed, response 407",
    f"export https_proxy='http://corp%5Cjdoe:{CANARY}@proxy:3128'; claude\nAPI Error (Connection error.)",
    f"Proxy-Authorization: Basic {CANARY}\nHTTP/1.1 407 Proxy Authentication Required",
    f"x-api-key: {CANARY}\nauthentication_error: invalid x-api-key",
    f"ANTHROPIC_API_KEY={CANARY} claude -p hi\nSELF_SIGNED_CERT_IN_CHAIN",
    f"password {CANARY}\nECONNREFUSED",
    f"tunnel to {CANARY} failed: 407",  # a secret the run knows, in no recognisable shape
])
def test_a_secret_never_reaches_the_excerpt_or_the_explanation(text):
    redactor = Redactor([CANARY])
    result = classify(text, redactor)
    shown = json.dumps(result.as_note(), ensure_ascii=False) + result.explanation + result.text_excerpt
    shown += "".join(e.matched_text for e in result.evidence) + result.headline
    assert CANARY not in shown
    assert not result.ambiguous


def test_secret_shaped_text_is_masked_even_without_the_run_redactor():
    result = classify(f"HTTPS_PROXY=http://u:{CANARY}@host:8080 connection refused")
    assert CANARY not in result.text_excerpt + result.explanation
    assert "u:***@host" in result.text_excerpt


def test_a_password_holding_an_unencoded_at_sign_is_masked_whole_and_named():
    """The unencoded @ splits the URL inside the password: triage names it, and no part of it is shown."""
    for pw in (f"Pa@{CANARY}", f"Pa@ss#{CANARY}", f"{CANARY}@x"):
        result = classify(f"HTTPS_PROXY=http://jdoe:{pw}@proxy.corp:8080 claude\nProxyError('Cannot connect to proxy.', "
                          "gaierror(-2, 'Name or service not known'))")
        shown = result.text_excerpt + result.explanation + "".join(e.matched_text for e in result.evidence)
        assert CANARY not in shown and "jdoe:***@proxy.corp:8080" in result.text_excerpt
        assert result.branches[0] == "auth", result.explanation
    assert Redactor().redact("http://u:pw@host/path@x") == "http://u:***@host/path@x"
    # An encoded password is fine: the message points elsewhere.
    assert classify("HTTPS_PROXY=http://jdoe:p%40ss@proxy.corp:8080\ncurl: (7) Failed to connect to proxy.corp port "
                    "8080").branches[0] == "connectivity"


def test_excerpt_is_short_single_line_and_redacted_across_the_cut():
    secret = "Zq9" + "w" * 30
    text = "x" * 185 + f" http://u:{secret}@h " + "ECONNRESET"
    result = classify(text, Redactor([secret]))
    assert len(result.text_excerpt) <= 200 and "\n" not in result.text_excerpt
    assert "Zq9" not in result.text_excerpt


# -- reading the symptom ------------------------------------------------------------
def test_read_symptom_text_file_and_both(tmp_path):
    path = tmp_path / "err.log"
    path.write_text("curl: (7) Failed to connect\n", encoding="utf-8")
    assert read_symptom(None, None) is None
    assert read_symptom("ECONNRESET", None) == "ECONNRESET"
    assert read_symptom(None, str(path)) == "curl: (7) Failed to connect\n"
    assert read_symptom("ECONNRESET", str(path)) == "ECONNRESET\ncurl: (7) Failed to connect\n"


def test_read_symptom_from_stdin_bytes_and_text():
    raw = io.BytesIO("SELF_SIGNED_CERT_IN_CHAIN \xe2\x80\xa6".encode("latin-1") + b"\xff")
    assert read_symptom(None, "-", stdin=io.TextIOWrapper(raw)).startswith("SELF_SIGNED_CERT_IN_CHAIN")
    assert read_symptom(None, "-", stdin=io.StringIO("ECONNREFUSED")) == "ECONNREFUSED"


def test_read_symptom_is_bounded_and_replaces_undecodable_bytes(tmp_path):
    path = tmp_path / "big.log"
    path.write_bytes(b"\xfd\xfc" + b"a" * (2 * MAX_SYMPTOM_BYTES))
    text = read_symptom(None, str(path))
    assert len(text) <= MAX_SYMPTOM_BYTES
    assert text.startswith("\ufffd")


def test_read_symptom_decodes_powershell_utf16(tmp_path):
    path = tmp_path / "ps.txt"
    path.write_bytes("API Error: Unable to connect to API (ConnectionRefused)\r\n".encode("utf-16"))
    assert "ConnectionRefused" in read_symptom(None, str(path))


def test_read_symptom_names_an_unreadable_file(tmp_path):
    with pytest.raises(SymptomInputError, match=r"symptom-file '.*nope\.log' cannot be read: No such file"):
        read_symptom(None, str(tmp_path / "nope.log"))
    with pytest.raises(SymptomInputError, match="is a directory"):
        read_symptom(None, str(tmp_path))


# -- selection ----------------------------------------------------------------------
def _item(name: str, *markers: str):
    return SimpleNamespace(name=name, get_closest_marker=lambda m, _ms=markers: object() if m in _ms else None)


def test_select_items_keeps_chosen_branches_and_unbranched_items():
    items = [_item("a", "auth"), _item("c", "connectivity"), _item("cert", "certificate"), _item("gw", "gateway"),
             _item("site"), _item("user-test")]
    kept, dropped = select_items(items, classify(DER_CA))
    assert [i.name for i in kept] == ["c", "cert", "site", "user-test"]
    assert [i.name for i in dropped] == ["a", "gw"]
    kept, dropped = select_items(items, classify("Invalid proxy server token passed"))
    assert [i.name for i in kept] == ["gw", "site", "user-test"]
    kept, dropped = select_items(items, classify("no idea what happened"))
    assert kept == items and dropped == []
    assert select_items(items, None) == (items, [])


def test_the_steps_that_own_the_tunnel_run_first_whatever_the_symptom():
    items = [_item(s, s.partition(".")[0]) for s in ("connectivity.proxy_reachable", "connectivity.no_proxy",
                                                      "auth.credentials", "auth.netrc", "connectivity.proxy_works",
                                                      "certificate.interception", "bypass.no_proxy")]
    kept, dropped = select_items(items, classify("SELF_SIGNED_CERT_IN_CHAIN"), lambda item: item.name)
    assert [i.name for i in kept] == ["connectivity.proxy_reachable", "auth.credentials", "connectivity.proxy_works",
                                      "certificate.interception"]
    assert [i.name for i in dropped] == ["connectivity.no_proxy", "auth.netrc", "bypass.no_proxy"]


def test_as_note_is_json_ready():
    note = classify("ECONNREFUSED").as_note()
    assert json.loads(json.dumps(note)) == note
    assert note["branches"] == ["connectivity"] and note["marker_expression"] == "connectivity"
    assert note["headline"].startswith("'ECONNREFUSED' -> connectivity")


# -- the options, through pytest ------------------------------------------------------
CONFTEST = """
from pytest_proxydiag.triage import triage_from_config

def pytest_configure(config):
    triage = triage_from_config(config)
    with open("triage.out", "w", encoding="utf-8") as f:
        f.write("none" if triage is None else triage.headline)
"""


def test_symptom_options_through_pytest(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile("def test_x(): pass")
    # A symptom implies --proxydiag: the bundled steps run too (no proxy here: they skip), and test_x.
    result = pytester.runpytest_subprocess("--proxydiag-symptom", "curl: (56) CONNECT tunnel failed, response 407",
                                           "test_symptom_options_through_pytest.py")
    assert result.ret == 0 and result.parseoutcomes()["passed"] >= 1
    assert (pytester.path / "triage.out").read_text(encoding="utf-8").endswith("-> auth")

    (pytester.path / "err.log").write_text("SELF_SIGNED_CERT_IN_CHAIN", encoding="utf-8")
    result = pytester.runpytest_subprocess("--proxydiag-symptom-file", "err.log",
                                           "test_symptom_options_through_pytest.py")
    assert result.ret == 0
    assert (pytester.path / "triage.out").read_text(encoding="utf-8").endswith("-> certificate")

    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    assert (pytester.path / "triage.out").read_text(encoding="utf-8") == "none"


def test_symptom_from_stdin_through_pytest(pytester):
    """pytest points fd 0 at /dev/null while capturing; the reader suspends capture to read the pipe."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile("def test_x(): pass")
    result = pytester.run(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--proxydiag-symptom-file", "-",
                          "test_symptom_from_stdin_through_pytest.py",
                          stdin=b"npm ERR! code ECONNREFUSED\nconnect ECONNREFUSED 127.0.0.1:3128\n", timeout=120)
    assert result.parseoutcomes()["passed"] >= 1
    assert (pytester.path / "triage.out").read_text(encoding="utf-8").endswith("-> connectivity")
    # Capture is put back as it was: pytest's header and the triage lines are not swallowed by it.
    out = result.stdout.str()
    assert "test session starts" in out and "proxydiag branches:" in out, out[:2000]


def test_unreadable_symptom_file_is_a_usage_error_not_a_traceback(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_subprocess("--proxydiag-symptom-file", "missing.log")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--proxydiag-symptom-file 'missing.log' cannot be read: No such file*"])
    assert "Traceback" not in result.stderr.str()


NOTES_CONFTEST = """
import json
from pytest_proxydiag.core.state import get_state

def pytest_unconfigure(config):
    with open("notes.json", "w", encoding="utf-8") as f:
        json.dump(get_state(config).notes, f)
"""

BRANCH_TESTS = """
import pytest

@pytest.mark.auth
def test_auth(): pass

@pytest.mark.connectivity
def test_connectivity(): pass

@pytest.mark.certificate
def test_certificate(): pass

@pytest.mark.policy
def test_policy(): pass

def test_unbranched(): pass
"""


def test_wiring_selects_branches_reports_them_and_keeps_secrets_out(pytester, monkeypatch):
    """The plugin's own wiring: the symptom selects branches for bundled and site tests alike."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://jdoe:{CANARY}@127.0.0.1:9")
    pytester.makeconftest(NOTES_CONFTEST)
    pytester.makepyfile(test_branches=BRANCH_TESTS)
    result = pytester.runpytest_subprocess(
        "-v", "-p", "no:cacheprovider", "test_branches.py", "--proxydiag-symptom",
        f"HTTPS_PROXY=http://jdoe:{CANARY}@127.0.0.1:9\nProxyError('Unable to connect to proxy', "
        "SSLError(SSLEOFError(8, 'EOF occurred in violation of protocol')))")
    result.stdout.fnmatch_lines([
        "proxydiag symptom: 'HTTPS_PROXY=http://****@127.0.0.1:9 ProxyError*",
        'proxydiag branches: connectivity, certificate first (-m "connectivity or certificate"), the others where '
        'they can change the root cause',
        "proxydiag why: *-> connectivity (most likely)*-> certificate (also plausible)*",
    ])
    out = result.stdout.str()
    for name in ("test_connectivity", "test_certificate", "test_unbranched"):
        assert f"test_branches.py::{name} PASSED" in out
    # Nothing listens on the proxy's port: the chosen connectivity branch finds it, so the others do not run.
    assert "test_connectivity.py::test_proxy_reachable FAILED" in out
    for name in ("test_auth", "test_policy"):
        assert f"test_branches.py::{name} SKIPPED (not needed" in out
    assert "test_auth.py::" in out and "test_auth.py::test_credentials PASSED" not in out
    notes = json.loads((pytester.path / "notes.json").read_text(encoding="utf-8"))
    assert notes["symptom"]["branches"] == ["connectivity", "certificate"]
    assert CANARY not in out + result.stderr.str() + json.dumps(notes)


def test_wiring_runs_everything_for_unknown_text(pytester):
    pytester.makepyfile(test_branches=BRANCH_TESTS)
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider", "test_branches.py",
                                           "--proxydiag-symptom", "it just does not work")
    result.stdout.fnmatch_lines(["proxydiag branches: every branch (no known proxy error in the text)"])
    out = result.stdout.str()
    for name in ("test_auth", "test_connectivity", "test_certificate", "test_policy", "test_unbranched"):
        assert f"test_branches.py::{name} PASSED" in out


# -- real clients through the lab: today's wording, not remembered wording ------------------------
# Each lab scenario is a real misconfigured Squid on loopback; each client's own message (what the
# terminal shows) must select the branch the scenario breaks.  Run without -f/raise, as users do.
REAL_CLIENT_CASES = {
    # scenario: (branch ranked first, {client: branch that must at least be selected})
    "wrong-password": ("auth", {}),
    "ntlm-only": ("auth", {}),
    "proxy-down": ("connectivity", {}),
    "proxy-blackholed": ("connectivity", {}),
    "blocked-domain": ("policy", {"claude": "policy"}),
    "ssl-bump-untrusted": ("certificate", {}),
    "upstream-down": ("connectivity", {"claude": "connectivity"}),
    "hostile-plain-for-https": ("connectivity", {}),
}
CLAUDE_BINARY = os.environ.get("PROXYDIAG_CLAUDE", "/opt/proxydiag-claude/node_modules/.bin/claude")


def _what_curl_prints(lab) -> str:
    import subprocess

    env = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", **lab.env}
    proc = subprocess.run(["curl", "-sS", "--max-time", "3", lab.target_url + "/v1/messages"], env=env,
                          capture_output=True, text=True, timeout=30)
    return (proc.stderr + proc.stdout).strip()


def _what_python_prints(lab, client: str) -> str:
    try:
        if client == "requests":
            import requests

            requests.get(lab.target_url + "/v1/messages", proxies={"https": lab.proxy_url}, timeout=3)
        else:
            import httpx

            with httpx.Client(proxy=lab.proxy_url, timeout=3, trust_env=False) as c:
                c.get(lab.target_url + "/v1/messages")
    except Exception as exc:  # the message is the subject under test
        return f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    return "no error"


def _what_claude_prints(lab, monkeypatch) -> str | None:
    """Claude Code's own message (``result`` of ``claude -p``), run keyless by the clients module."""
    from pytest_proxydiag.proof.clients import CLAUDE_ENV, client_env, run_client

    if not os.access(CLAUDE_BINARY, os.X_OK) or lab.name == "proxy-blackholed":  # that one hangs past 90 s
        return None
    monkeypatch.setenv(CLAUDE_ENV, CLAUDE_BINARY)
    env = client_env({"PATH": os.environ.get("PATH", ""), CLAUDE_ENV: CLAUDE_BINARY, **lab.env})
    run = run_client("claude", lab.target_url, env, 15,
                     resolve={("api.anthropic.com", lab.origin_port): "127.0.0.1"})
    return None if run.error_code == "unavailable" else run.error


@pytest.mark.timeout(180)
@pytest.mark.parametrize("scenario", list(REAL_CLIENT_CASES))
def test_real_client_messages_select_the_broken_branch(scenario, lab_factory, monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
                 "no_proxy", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    first, at_least = REAL_CLIENT_CASES[scenario]
    lab = lab_factory(scenario)
    messages = {"curl": _what_curl_prints(lab), "requests": _what_python_prints(lab, "requests"),
                "httpx": _what_python_prints(lab, "httpx"), "claude": _what_claude_prints(lab, monkeypatch)}
    for client, message in messages.items():
        if message is None:
            continue
        result = classify(message)
        print(f"{scenario} {client}: {result.branches} <- {message[:160]!r}")
        if client in at_least:
            assert at_least[client] in result.branches, (client, message, result.scores)
        else:
            assert result.branches[0] == first, (client, message, result.scores)


# Measured with the real Claude Code 2.1.332 in Bedrock and Vertex AI mode through the lab's Squid (its CA
# trusted): the cloud answered and refused the login, so the path through the proxy works.
CLOUD_LOGIN_REFUSED = [
    "AWS authentication failed · refresh your AWS credentials (SSO sign-in, access keys, API key or proxy token) "
    "and retry · if credentials are current, check AWS permissions and model access · API Error: 403 The security "
    "token included in the request is invalid.",
    "AWS authentication failed · refresh your AWS credentials (SSO sign-in, access keys, API key or proxy token) "
    "and retry · if credentials are current, check AWS permissions and model access · API Error: 403 Missing "
    "Authentication Token",
    "Google Cloud credentials expired or invalid · refresh the gateway token provided via "
    "ANTHROPIC_AUTH_TOKEN/ANTHROPIC_CUSTOM_HEADERS and retry · API Error: 401 Request is missing required "
    "authentication credential.",
]


@pytest.mark.parametrize("text", CLOUD_LOGIN_REFUSED)
def test_a_clouds_own_login_refusal_is_not_the_proxys_403(text):
    result = classify(text)
    assert result.branches[0] == "application" and "policy" not in result.branches, result
    assert "AWS or Google answered" in result.explanation and "the path through the proxy works" \
        in result.explanation, result.explanation


def test_webfetchs_domain_check_is_said_to_go_to_api_anthropic_com():
    """Its message names claude.ai, but Claude Code 2.1.332 asks api.anthropic.com/api/web/domain_info (the binary)."""
    result = classify("Error: Unable to verify if domain github.com is safe to fetch. This may be due to network "
                      "restrictions or enterprise security policies blocking claude.ai.")
    assert result.branches == ("policy",), result
    assert "asks api.anthropic.com (/api/web/domain_info) whatever the API provider" in result.explanation, \
        result.explanation
    assert "blocks claude.ai" not in result.explanation
