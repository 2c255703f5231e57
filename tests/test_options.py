"""A bad value for any option or ini key is pytest's usage error: exit 4 and one line naming
the option (or ini key), the value and its source, before any step runs.

Values read from the environment are the user's misconfiguration, which the diagnosis is
for: they stay findings (see test_plugin.py's malformed HTTPS_PROXY test).
"""

from __future__ import annotations

import json

import pytest

from pytest_proxydiag.core.config import OPTIONS

#: option name -> (a bad value, the reason the line gives).  Paths are relative to pytester's directory,
#: where ``a-file`` is a regular file and ``a-dir`` a directory.
BAD_VALUES = {
    "proxy": ("http://alice:s3cret@:3128", "has no host"),
    "target": ("ftp://api.anthropic.com", "must be an http:// or https:// URL with a host"),
    "gateway": ("localhost:4000", "must be an http:// or https:// URL with a host"),
    "resolve": ("garbage", "must be HOST:PORT:ADDRESS, like curl --resolve"),
    "no_direct": ("maybe", "must be true or false"),
    "no_claude_hosts": ("perhaps", "must be true or false"),
    "gateway_key_env": ("sk-ant-not-a-name", "must be the name of an environment variable"),
    "timeout": ("soon", "must be a positive number of seconds"),
    "deadline": ("0", "must be a positive number of seconds"),
    "json": ("a-dir", "is a directory; name a file to write"),
    "public_roots": ("missing.pem", "no such file"),
    "ca_out": ("a-file/ca.pem", "cannot be created: */a-file is a file, not a directory"),
    "clients": ("curl,wget", "must be auto, none, or a comma list of curl,requests,httpx,node,claude,boto3"),
    "fix_script": ("a-file/fix.sh", "cannot be created: */a-file is a file, not a directory"),
    "symptom_file": ("missing.log", "cannot be read: No such file"),
    "compare": ("missing.json", "no such file"),
    "bundle": ("a-dir", "is a directory; name a file to write"),
    "aws_region": ("US EAST 1", "must be a region name like us-east-1"),
    "vertex_region": ("europe/west4", "must be a region name like us-east-1"),
    "litellm_config": ("a-dir", "is a directory; name a file"),
    "pac_url": ("gopher://pac.corp/proxy.pac", "must be an http://, https:// or file:// URL"),
    "port_candidates": ("99999", "a port is a number from 1 to 65535"),
    "reference": ("https://google.com", "must be HOST:PORT (like google.com:443), or none"),
    "latency_threshold": ("nan", "must be a positive number of seconds"),
    "health_samples": ("500", "must be a whole number from 1 to 50"),
    "health_threshold": ("-0.5", "must be a positive number of seconds"),
    "payload_sizes": ("16K,lots", "'lots' is not a size like 16K or 1M"),
}
#: Options for which no text is a bad value: any text is a symptom.
ANY_TEXT = {"symptom"}
#: Options without a value on the command line (a flag): only the ini key can hold a bad one.
FLAGS = {o.name for o in OPTIONS if o.kind == "bool"}


def test_every_option_has_a_bad_value_case():
    assert set(BAD_VALUES) | ANY_TEXT == {o.name for o in OPTIONS}


@pytest.fixture
def workdir(pytester, monkeypatch):
    from conftest import CONFIG_VARS

    for name in CONFIG_VARS:
        monkeypatch.delenv(name, raising=False)
    (pytester.path / "a-file").write_text("x")
    (pytester.path / "a-dir").mkdir()
    pytester.makepyfile(test_user="def test_user(): pass")
    return pytester


def _expected_line(flag_or_key: str, value: str, source: str, why: str) -> str:
    if flag_or_key == "--proxydiag-symptom-file":
        return f"*--proxydiag-symptom-file {value!r} {why}*"   # triage reads (and judges) the file itself
    if value == "(not shown)":  # the name of a secret's variable: a wrong value may be the secret itself
        return f"ERROR: invalid {flag_or_key} value (not shown) from {source}: {why}*"
    return f"ERROR: invalid {flag_or_key} value {value!r} from {source}: {why}*"


def _assert_usage_error(result, line: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines([line])
    errors = [ln for ln in result.stderr.lines if ln.strip()]
    assert len(errors) == 1, errors                       # one line, no traceback
    assert "proxy diagnosis" not in result.stdout.str()   # no step ran
    assert "s3cret" not in result.stderr.str()


@pytest.mark.parametrize("name", sorted(set(BAD_VALUES) - FLAGS))
def test_bad_command_line_value_is_a_usage_error_naming_option_value_and_source(workdir, name):
    opt = {o.name: o for o in OPTIONS}[name]
    value, why = BAD_VALUES[name]
    result = workdir.runpytest_inprocess("--proxydiag", "-p", "no:cacheprovider", opt.flag, value)
    shown = "(not shown)" if name == "gateway_key_env" else value.replace("s3cret", "***")
    _assert_usage_error(result, _expected_line(opt.flag, shown, "cli", why))


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_bad_ini_value_is_a_usage_error_naming_key_value_and_ini_file(workdir, name):
    opt = {o.name: o for o in OPTIONS}[name]
    value, why = BAD_VALUES[name]
    ini = workdir.makeini(f"[pytest]\n{opt.ini} = {value}\n")
    result = workdir.runpytest_inprocess("--proxydiag", "-p", "no:cacheprovider")
    shown = "(not shown)" if name == "gateway_key_env" else value.replace("s3cret", "***")
    if opt.name == "symptom_file":
        line = _expected_line(opt.flag, value, "", why)
    else:
        line = _expected_line(opt.ini, shown, f"ini ({ini})", why)
    _assert_usage_error(result, line)


def test_a_key_passed_where_its_variable_name_belongs_is_never_echoed(workdir):
    result = workdir.runpytest("--proxydiag", "--proxydiag-gateway-key-env", "sk-ant-api03-abcdefghijkl")
    assert result.ret == 4
    assert "sk-ant-api03" not in result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines(["*invalid --proxydiag-gateway-key-env value (not shown) from cli*"])


def test_a_bad_value_in_a_list_names_the_item_not_the_list(workdir):
    result = workdir.runpytest_inprocess("--proxydiag", "-p", "no:cacheprovider", "--proxydiag-target",
                                         "https://api.anthropic.com", "--proxydiag-target", "api.openai.com")
    _assert_usage_error(result, "ERROR: invalid --proxydiag-target value 'api.openai.com' from cli: must be*")


def test_the_dormant_plugin_does_not_judge_option_values(workdir):
    workdir.makeini("[pytest]\nproxydiag_timeout = soon\n")
    result = workdir.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_bad_environment_values_stay_findings_not_usage_errors(workdir, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "US EAST 1")
    monkeypatch.setenv("HTTPS_PROXY", "http://:3128")
    json_path = workdir.path / "r.json"
    result = workdir.runpytest_inprocess("--proxydiag", "-p", "no:cacheprovider", "-m", "connectivity",
                                         "--proxydiag-json", str(json_path))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    doc = json.loads(json_path.read_text())
    assert doc["config"]["problems"] == [
        "invalid AWS_REGION value 'US EAST 1' from env:AWS_REGION: must be a region name like us-east-1 or "
        "europe-west4"]
    assert doc["root_cause"] == "connectivity.proxy_reachable"


@pytest.mark.parametrize("name,value,expected", [
    ("timeout", "2.5", 2.5), ("health_samples", "3", 3), ("payload_sizes", "16K, 1M", [16384, 1048576]),
    ("clients", "Curl,claude", "curl,claude"), ("aws_region", "EU-West-1", ["eu-west-1"]),
    ("resolve", "API.anthropic.com:443:[::1]", [("api.anthropic.com", 443, "::1")]),
    ("reference", "Intranet.Example:8443", ["intranet.example", 8443]), ("reference", "none", None),
])
def test_good_values_are_parsed_and_keep_their_source(workdir, name, value, expected):
    opt = {o.name: o for o in OPTIONS}[name]
    json_path = workdir.path / "r.json"
    workdir.runpytest_inprocess("--proxydiag", "-p", "no:cacheprovider", "-m", "auth", opt.flag, value,
                                "--proxydiag-json", str(json_path))
    got = json.loads(json_path.read_text())["config"][name]
    assert got["source"] == "cli"
    assert got["value"] == json.loads(json.dumps(expected))


@pytest.mark.skipif(int(pytest.__version__.split(".")[0]) < 9, reason="the native [tool.pytest] table is pytest 9's")
def test_native_toml_numbers_are_values_and_bad_ones_usage_errors(workdir):
    toml = workdir.path / "pyproject.toml"
    toml.write_text("[tool.pytest]\nproxydiag_timeout = 3\nproxydiag_port_candidates = [3129]\n"
                    "proxydiag_no_direct = true\n")
    json_path = workdir.path / "r.json"
    workdir.runpytest_inprocess("--proxydiag", "-p", "no:cacheprovider", "-m", "auth",
                                "--proxydiag-json", str(json_path))
    cfg = json.loads(json_path.read_text())["config"]
    assert cfg["timeout"] == {"value": 3.0, "source": "ini"}
    assert cfg["port_candidates"] == {"value": [3129], "source": "ini"}
    assert cfg["no_direct"] == {"value": True, "source": "ini"}
    toml.write_text("[tool.pytest]\nproxydiag_timeout = -3\n")
    result = workdir.runpytest_inprocess("--proxydiag", "-p", "no:cacheprovider")
    _assert_usage_error(result, f"ERROR: invalid proxydiag_timeout value '-3' from ini ({toml}): must be a "
                                "positive number of seconds")


NATIVE_TOML = pytest.mark.skipif(int(pytest.__version__.split(".")[0]) < 9,
                                 reason="the native [tool.pytest] table is pytest 9's")


@NATIVE_TOML
@pytest.mark.parametrize("line,shown,why", [
    ("proxydiag_no_direct = 1", "1", "must be true or false, not a TOML integer"),
    ("proxydiag_no_direct = \"maybe\"", "'maybe'", "must be true or false"),
    ("proxydiag_timeout = true", "True", "must be text or a number, not a TOML boolean"),
    ("proxydiag_payload_sizes = [\"16K\"]", "['16K']", "must be text or a whole number, not a TOML array"),
    ("proxydiag_json = [\"a.json\"]", "['a.json']", "must be text, not a TOML array"),
    ("proxydiag_port_candidates = [true]", "[True]", "must be a list of text values, not a TOML array"),
    ("proxydiag_health_samples = 2.5", "'2.5'", "must be a whole number from 1 to 50"),
])
def test_a_native_toml_value_of_the_wrong_type_names_key_value_and_file(workdir, line, shown, why):
    """pytest itself refuses some of these (in words that changed in 9.2); the line is this tool's."""
    toml = workdir.path / "pyproject.toml"
    toml.write_text(f"[tool.pytest]\n{line}\n")
    result = workdir.runpytest_inprocess("--proxydiag", "-p", "no:cacheprovider")
    key = line.split(" =", 1)[0]
    _assert_usage_error(result, f"ERROR: invalid {key} value {shown} from ini ({toml}): {why}")


@pytest.mark.skipif(not __import__("pytest_proxydiag.core.config", fromlist=["typed_ini"]).typed_ini(),
                    reason="typed ini keys (a union like str | float) are pytest 9.2's")
def test_numbers_and_bools_are_typed_ini_keys_a_site_test_can_read(workdir):
    """From pytest 9.2 the keys are declared with their TOML types: pytest's own getini returns them."""
    (workdir.path / "pyproject.toml").write_text(
        "[tool.pytest]\nproxydiag_timeout = 3\nproxydiag_health_samples = 4\nproxydiag_no_direct = true\n")
    workdir.makepyfile(test_user="""
        def test_read(pytestconfig):
            got = [pytestconfig.getini(k) for k in ("proxydiag_timeout", "proxydiag_health_samples",
                                                     "proxydiag_no_direct")]
            assert got == [3, 4, True] and type(got[0]) is int
    """)
    workdir.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_an_override_is_named_as_such_not_as_the_ini_file(workdir):
    workdir.makeini("[pytest]\nproxydiag_timeout = 3\n")
    result = workdir.runpytest_inprocess("--proxydiag", "-p", "no:cacheprovider", "-o", "proxydiag_timeout=soon")
    _assert_usage_error(result, "ERROR: invalid proxydiag_timeout value 'soon' from -o (override_ini): must be a "
                                "positive number of seconds")


def test_a_bool_key_reads_true_and_false_in_every_spelling(workdir):
    json_path = workdir.path / "r.json"
    for text, expected in (("yes", True), ("Off", False), ("1", True), ("false", False)):
        workdir.makeini(f"[pytest]\nproxydiag_no_direct = {text}\n")
        workdir.runpytest_inprocess("--proxydiag", "-p", "no:cacheprovider", "-m", "auth",
                                    "--proxydiag-json", str(json_path))
        assert json.loads(json_path.read_text())["config"]["no_direct"] == {"value": expected, "source": "ini"}
