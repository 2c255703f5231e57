"""Sentences about site checks and about the tool's own failures (no flowchart step of their own).

Templates are filled with :meth:`str.format`; every value is redacted first.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

#: The solution of a plain site test (a test without ``proxydiag_step``): its message is the finding.
PLAIN_TEST_SOLUTION = ("This is a site check ({place}), not a step of the flowchart: its message above says "
                       "what failed. Fix that, or ask whoever maintains {file} what the check expects.")

#: A site check that could not reach a verdict (its fixture or its own code raised).
SITE_ERROR_SOLUTION = ("The site check {place} could not reach a verdict: it raised an error (the traceback "
                       "is in the JSON report). Ask whoever maintains {file}.")

#: A bundled step that raised: a bug in this tool, never a finding about the user's setup.
TOOL_ERROR_SOLUTION = ("The diagnosis itself failed at this step. Please report it with the JSON report "
                       "attached: it is a bug in pytest-proxydiag, not in your setup.")

#: Evidence of a fix whose proof crashed inside this tool.
FIX_PROOF_CRASHED = "the fix could not be proven: pytest-proxydiag failed while trying it (a bug: {error})"

#: Usage errors about site steps.
DUPLICATE_STEP_ID = ("{site}: proxydiag_step({step_id!r}) reuses the id of the bundled step {bundled}; "
                     "give the site step an id of its own, like 'site.{name}'")
NOT_A_STEP = ("{site}: proxydiag_step({step_id!r}) is not a flowchart step; a site step needs title= "
              "(and solution=)")
