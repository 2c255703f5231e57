"""The boto3 runner: botocore's bedrock-runtime InvokeModel with dummy credentials, in a child process.

Python users reach Bedrock through boto3/botocore, whose trust and proxy rules
are its own: ``AWS_CA_BUNDLE`` (or ``ca_bundle`` in ``~/.aws/config``) first,
else ``REQUESTS_CA_BUNDLE``, else certifi; never ``SSL_CERT_FILE``; the proxy
from ``HTTPS_PROXY``/``NO_PROXY``.  The run signs with a dummy key pair given
explicitly, so neither the user's keys, profiles nor a ``credential_process``
are ever read; AWS answers such a request 403 ``UnrecognizedClientException``,
which proves the path like the Anthropic API's 401 to a dummy key.
"""

from __future__ import annotations

import json
import sys

from pytest_proxydiag.branches.providers import bedrock_region
from pytest_proxydiag.proof.client_base import (KILL_GRACE, REQUEST_BODY, ClientInfo, _last_json_line, _Proc,
                                                _Request, _spawn)
from pytest_proxydiag.proof.client_runners import PY_PRELUDE

#: The model id the check asks for; with a dummy signature AWS never looks it up.
BEDROCK_MODEL = "anthropic.claude-proxydiag-check"
#: The access key id of the dummy pair (a secret key of the same kind goes with it; neither is a real key).
DUMMY_ACCESS_KEY = "AKIAPROXYDIAGDUMMY00"

_BOTO_CLIENT = PY_PRELUDE + r"""
try:
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import ClientError
    session = botocore.session.get_session()
    client = session.create_client(
        "bedrock-runtime", region_name=a["region"], endpoint_url=a["endpoint"],
        aws_access_key_id=a["key_id"], aws_secret_access_key=a["secret"],
        config=Config(connect_timeout=a["timeout"], read_timeout=a["timeout"], retries={"total_max_attempts": 1}))
    try:
        r = client.invoke_model(modelId=a["model"], body=a["body"].encode(), contentType="application/json",
                                accept="application/json")
        out(status=r["ResponseMetadata"]["HTTPStatusCode"], headers=r["ResponseMetadata"].get("HTTPHeaders", {}))
    except ClientError as e:
        meta = e.response.get("ResponseMetadata", {})
        headers = meta.get("HTTPHeaders", {})
        code = e.response.get("Error", {}).get("Code")
        aws = bool(headers.get("x-amzn-errortype") or headers.get("x-amzn-requestid"))
        out(status=meta.get("HTTPStatusCode"), headers=headers, provider_error=code if aws else None)
except Exception as e:
    out(error=str(e) or repr(e), error_code=type(e).__name__)
"""


def _run_boto3(info: ClientInfo, req: "_Request") -> tuple[list[str], _Proc, dict]:
    # A throw-away secret of the dummy key id: a value AWS knows for no account.
    secret = "proxydiag" + "0" * 31
    arg = json.dumps({"endpoint": req.base_url, "region": bedrock_region(req.host, req.env), "model": BEDROCK_MODEL,
                      "timeout": req.timeout, "body": REQUEST_BODY, "key_id": DUMMY_ACCESS_KEY, "secret": secret,
                      "resolve": [[h, p, a] for (h, p), a in req.resolve.items()]})
    cmd = [sys.executable, "-c", _BOTO_CLIENT, arg]
    proc = _spawn(cmd, req.env, req.workdir, req.timeout + KILL_GRACE)
    display = [sys.executable, "-c", f"<botocore bedrock-runtime InvokeModel {BEDROCK_MODEL}>", req.base_url]
    return display, proc, _last_json_line(proc.stdout) or {}
