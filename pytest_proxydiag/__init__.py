"""pytest-proxydiag: the corporate-proxy troubleshooting flowchart as a self-diagnosing test suite.

Run ``pytest --proxydiag`` (or the ``proxydiag`` command).  Site tests use the
fixtures ``proxydiag_config``, ``proxydiag_probes``, ``proxydiag_target`` and
``proxydiag_step``; see the README.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
