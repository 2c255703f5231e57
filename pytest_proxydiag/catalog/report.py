"""The sentences of the reports themselves (not of a step): verdicts on fixes, runs without a finding.

Renderers (``reports/text.py`` and the others) fill these; the step findings
and solutions are in the branch modules next to this one.
"""

from __future__ import annotations

__all__ = ["FIX_VERDICTS", "NO_PROXY_CONFIGURED", "UNSELECTED_BLOCKERS", "SYMPTOM_UNEXPLAINED", "SYMPTOM_ANSWERED",
           "SYMPTOM_WIDENED", "ALL_PASSED",
           "NOTHING_CHANGED"]

#: A fix's ``verified`` value, as the report states it.
FIX_VERDICTS = {True: "verified on this machine", False: "tried here and it did NOT work",
                None: "not verifiable on this machine"}

#: Nothing to diagnose is not "healthy": say what is missing and how to go on.
NO_PROXY_CONFIGURED = (
    "No proxy is configured here (no https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY, http_proxy or HTTP_PROXY, "
    "no --proxydiag-proxy or proxydiag_proxy ini key), so the proxy steps did not apply. Behind a corporate "
    "proxy, ask IT for its address (or the PAC file) and run: pytest --proxydiag --proxydiag-proxy http://HOST:PORT")

#: A step blocked by one the run did not select: "no finding" would be false comfort.
UNSELECTED_BLOCKERS = ("No finding among the steps that ran, but some could not be assessed: they are blocked by "
                       "{steps}, which this run did not select. Run it too: pytest --proxydiag -m \"{markers}\"")

#: Triage reads only the words (about one real paste in four points elsewhere), so the branches it chose run
#: first and the others only when those find nothing.  The skip reason of a deferred step ...
SYMPTOM_ANSWERED = ("not needed: the branches chosen from your error ({chosen}) found the cause ({step}); "
                    "pytest --proxydiag runs every branch anyway")
#: ... the line the reports add when the others ran ...
SYMPTOM_WIDENED = ("The branches chosen from your error ({chosen}) found nothing, so the other branches ran too "
                   "({count} steps: {markers}).")
#: ... and the verdict when they could not run (interrupted, -x, the deadline): unexplained, not healthy.
SYMPTOM_UNEXPLAINED = ("No finding in the branches chosen from your error ({chosen}), so they do not explain it, "
                       "and the other branches did not run ({count} steps): pytest --proxydiag -m \"{markers}\"")

ALL_PASSED = "No finding: every step that ran passed."

NOTHING_CHANGED = "no step changed outcome and no compared evidence differs"
