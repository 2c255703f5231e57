"""Sentences of the fleet aggregate (``proxydiag fleet``): headings, group names and reasons a file is not read.

Plain data like the branch modules, but not merged into :data:`pytest_proxydiag.catalog.CATALOG`:
the fleet has no flowchart step of its own.  Templates use ``{name}`` placeholders.
"""

from __future__ import annotations

#: What each "what the hosts share" dimension is called in the reports.
DIMENSIONS = {
    "proxy": "proxy host:port",
    "product": "proxy product",
    "os": "OS",
    "python": "Python",
    "node": "Node",
    "claude": "Claude Code",
    "issuer": "interception issuer",
    "no_proxy": "NO_PROXY",
}

#: Values a dimension takes when the report does not say.
VALUES = {
    "no_proxy_configured": "no proxy configured",
    "not_identified": "not identified",
    "not_installed": "not installed",
    "not_intercepted": "not intercepted",
    "not_assessed": "not assessed",
    "unset": "unset",
}

#: Group headings: a root cause is titled by its flowchart step; these are the others.
GROUPS = {
    "healthy": "Healthy: no step failed",
    "unreachable": "Unreachable: Ansible could not reach the host",
    "run_failed": "Run failed: the diagnosis wrote no report",
    "diagnosis_error": "Diagnosis error: no step failed, but a step could not run (not healthy: the diagnosis is "
                       "incomplete there)",
}

#: The finding of a host in the ``diagnosis_error`` group: its first step in error (the report has the traceback).
ERROR_FINDING = ("{step} ({title}) ended in error: {detail}. Read that host's report (its traceback); a bundled "
                 "step's error is a pytest-proxydiag bug to report with the JSON, a site step's is the site check's.")

#: Why an input file is listed instead of aggregated.
REJECTED = {
    "missing": "no such file or directory",
    "unreadable": "cannot be read: {error}",
    "too_large": "too large ({size} bytes; the limit is {limit} bytes)",
    "not_text": "not UTF-8 text (a binary file?)",
    "truncated": "truncated: the JSON ends after {size} bytes in the middle of the document",
    "not_json": "not JSON: {error}",
    "foreign": "not a pytest-proxydiag JSON report (top-level {shape})",
    "schema": "schema {schema!r}; this version reads schema 1",
    "bad_zip": "not a readable zip file: {error}",
    "no_reports": "holds no .json or .zip file",
    "empty_zip": "holds no .json file",
    "aggregate": "a fleet aggregate (proxydiag fleet --json), not a report",
    "duplicate": "the same run as {other}",
    "no_steps": "holds no step results",
    "bad_status": "a fleet status file without a host name",
}

FIX_STATES = {
    "fixed": "fixed: a later run passed",
    "verified": "fix verified on the host (proven with real clients), not yet applied",
    "failing": "still failing, no verified fix",
}

TRANSITIONS = {
    "fixed": "fixed",
    "broke": "broke",
    "changed": "root cause changed",
    "unchanged": "unchanged",
}

TEXT = {
    "title": "Proxy diagnosis across the fleet",
    "summary": "{hosts} hosts from {reports} reports: {healthy} healthy, {failing} failing, "
               "{not_assessed} not assessed; {rejected} files not read.",
    "steps": "Per flowchart step (latest run of each host)",
    "groups": "Hosts by root cause, and what they share",
    "shared_by_all": "all {count} share it",
    "fixes": "Fixes",
    "timeline": "Timeline: hosts with several runs",
    "timeline_empty": "Every host has one run; give reports from before and after a rollout to see a timeline.",
    "rejected": "Files not read",
    "rejected_none": "Every file was a pytest-proxydiag report.",
    "more_hosts": "and {count} more (all in the JSON aggregate)",
    "no_input": "proxydiag fleet: no report could be read from {inputs}",
    "written": "{kind}: {path}",
}
