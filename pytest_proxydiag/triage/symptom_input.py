"""Read the symptom the user gave: ``--proxydiag-symptom TEXT`` and ``--proxydiag-symptom-file PATH|-``."""

from __future__ import annotations

import sys
from typing import IO, Any

from pytest_proxydiag.triage.classify import MAX_SYMPTOM_BYTES, decode


class SymptomInputError(ValueError):
    """The symptom file cannot be read; the message says which and why."""


def _read_bounded(stream: IO[bytes] | IO[str]) -> str:
    chunk = stream.read(MAX_SYMPTOM_BYTES + 1)
    if isinstance(chunk, bytes):
        text = decode(chunk[:MAX_SYMPTOM_BYTES])
    else:
        text = (chunk or "")[:MAX_SYMPTOM_BYTES]
    return text


def read_symptom(text: str | None, path: str | None, stdin: IO[Any] | None = None) -> str | None:
    """The symptom from ``--proxydiag-symptom TEXT`` and/or ``--proxydiag-symptom-file PATH``.

    ``path`` ``-`` reads standard input.  At most :data:`MAX_SYMPTOM_BYTES` are
    read; undecodable bytes are replaced.  Both given: the text, then the file.
    Neither: ``None``.  An unreadable file raises :class:`SymptomInputError`.
    """
    parts: list[str] = []
    if text:
        parts.append(text[:MAX_SYMPTOM_BYTES])
    if path:
        if path == "-":
            stream = stdin if stdin is not None else sys.stdin
            try:
                parts.append(_read_bounded(getattr(stream, "buffer", stream)))
            except (OSError, ValueError) as exc:
                raise SymptomInputError(f"--proxydiag-symptom-file -: cannot read standard input: {exc}") from exc
        else:
            try:
                with open(path, "rb") as f:
                    parts.append(_read_bounded(f))
            except IsADirectoryError:
                raise SymptomInputError(f"--proxydiag-symptom-file {path!r} is a directory, not a file") from None
            except OSError as exc:
                raise SymptomInputError(f"--proxydiag-symptom-file {path!r} cannot be read: "
                                        f"{exc.strerror or exc}") from None
    if not parts:
        return None
    return "\n".join(parts)
