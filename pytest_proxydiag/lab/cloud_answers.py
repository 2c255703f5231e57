"""What the lab origin answers on the Bedrock and Vertex AI paths: the clouds' own refusals.

A proof runs each client with dummy credentials, so the real services refuse it; the lab origin
refuses it the same way, with the marks that tell a provider's refusal from a proxy's (AWS's
``x-amzn-ErrorType`` header, Google's ``UNAUTHENTICATED`` status).
"""

from __future__ import annotations

import uuid

__all__ = ["bedrock_refusal", "vertex_refusal"]


def bedrock_refusal(authorization: str) -> tuple[int, dict, dict[str, str]]:
    """(status, body, headers) of Bedrock's answer to a request it cannot authenticate.

    A dummy signature is an unknown key, no signature a missing token; both are a 403 carrying
    the AWS error type, never an answer a proxy would give.
    """
    signed = authorization.startswith("AWS4-HMAC-SHA256")
    kind, message = (("UnrecognizedClientException", "The security token included in the request is invalid.")
                     if signed else ("MissingAuthenticationTokenException", "Missing Authentication Token"))
    return 403, {"message": message}, {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/",
                                       "x-amzn-RequestId": str(uuid.uuid4())}


def vertex_refusal() -> tuple[int, dict, dict[str, str]]:
    """(status, body, headers) of Vertex AI's answer to a caller without a Google access token."""
    return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED",
                           "message": "Request is missing required authentication credential."}}, {}
