"""The sentences of the reports themselves (not of a step): verdicts on fixes, runs without a finding.

Renderers (``reports/text.py`` and the others) fill these; the step findings
and solutions are in the branch modules next to this one.
"""

from __future__ import annotations

__all__ = ["FIX_VERDICTS", "FIX_UNPROVEN", "SITE_CHECK", "NO_PROXY_CONFIGURED", "UNSELECTED_BLOCKERS", "SYMPTOM_UNEXPLAINED", "SYMPTOM_ANSWERED",
           "SYMPTOM_WIDENED", "ALL_PASSED", "NOTHING_CHANGED", "NOT_DIAGNOSED"]

#: A fix's ``verified`` value, as the report states it.
FIX_VERDICTS = {True: "verified on this machine", False: "tried here and it did NOT work",
                None: "not verifiable on this machine"}

#: A variable of a verified fix that none of the clients that proved it reads (proof/client_rules.unproven).
FIX_UNPROVEN = "{name} is not proven by them: it is read by {readers}, and none of them ran here"

#: Where a site's own test sits: it has no place in the flowchart's numbering.
SITE_CHECK = "SITE check"

#: Nothing to diagnose is not "healthy": say what is missing and how to go on.
NO_PROXY_CONFIGURED = (
    "No proxy is configured here (no https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY, http_proxy or HTTP_PROXY, "
    "no --proxydiag-proxy or proxydiag_proxy ini key), so the proxy steps did not apply. Behind a corporate "
    "proxy, ask IT for its address (or the PAC file) and run: pytest --proxydiag --proxydiag-proxy http://HOST:PORT")

#: A step blocked by one the run did not select: "no finding" would be false comfort.
UNSELECTED_BLOCKERS = ("No finding among the steps that ran, but some could not be assessed: they are blocked by "
                       "{steps}, which this run did not select. Run it too: pytest --proxydiag -m \"{markers}\"")

#: Triage reads only the words (about one real paste in three points elsewhere), so the branches it chose run
#: first and a step of the others runs unless the root cause found so far ranks before anything it could
#: find.  The skip reason of such a step ...
SYMPTOM_ANSWERED = ("not needed: the root cause is already found ({step}), and this step comes after it in the "
                    "flowchart (the run started from your error's branches: {chosen}); pytest --proxydiag runs "
                    "every step")
#: ... the line the reports add when some of the others ran ...
SYMPTOM_WIDENED = ("The branches chosen from your error ({chosen}) did not settle the cause alone, so {ran} of the "
                   "{count} steps of the other branches ran too.")
#: ... and the verdict when nothing was found and some of them did not run (interrupted, the deadline):
#: unexplained, not healthy.
SYMPTOM_UNEXPLAINED = ("No finding in the branches chosen from your error ({chosen}), so they do not explain it, "
                       "and {missing} of the {count} steps of the other branches did not run: "
                       "pytest --proxydiag -m \"{markers}\"")

ALL_PASSED = "No finding: every step that ran passed."

#: The HTML verdict's kicker and heading over any of the "no finding, but ..." sentences above.
NOT_DIAGNOSED = ("No finding, but the cause may lie where this run did not look", "Not diagnosed yet")

NOTHING_CHANGED = "no step changed outcome and no compared evidence differs"
