"""The lab origin's streamed Messages answer: what a gateway's streaming check asks for.

``POST /v1/messages`` with ``"stream": true`` and the model ``claude-proxydiag-stream-<N>x<S>`` gets a
Messages API stream of N server-sent events S seconds apart, whatever the key (see
:class:`~pytest_proxydiag.lab.servers.HttpsOrigin`; ``branches/gateway.py`` sends it).
"""

from __future__ import annotations

import json
import re

__all__ = ["STREAM_CHECK_MODEL", "stream_check_request", "stream_events"]

#: The model that asks the origin for a spaced stream: claude-proxydiag-stream-<events>x<seconds>.
STREAM_CHECK_MODEL = re.compile(r"claude-proxydiag-stream-(\d+)x(\d+(?:\.\d+)?)")


def stream_check_request(body: bytes) -> tuple[int, float] | None:
    """(events, interval) when *body* asks for a streamed answer from the stream-check model, else None."""
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        return None
    m = STREAM_CHECK_MODEL.fullmatch(str(doc.get("model", ""))) if isinstance(doc, dict) else None
    if not m or doc.get("stream") is not True:
        return None
    return max(6, min(100, int(m.group(1)))), max(0.0, min(5.0, float(m.group(2))))


def stream_events(model: str, events: int) -> list[tuple[str, dict]]:
    """A Messages API stream of *events* server-sent events (message_start ... message_stop)."""
    deltas = events - 5
    out: list[tuple[str, dict]] = [
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_lab_stream", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 0}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}})]
    out += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": f"tick {i} "}}) for i in range(deltas)]
    out += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": deltas}}),
            ("message_stop", {"type": "message_stop"})]
    return out
