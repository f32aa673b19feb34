"""The fault proxy: faults injected from outside the service, on its data and control paths.

The harness imports :mod:`harness.proxy.process` (:class:`FaultProxy`); the relay itself runs
in its own process, :mod:`harness.proxy.child`, on loopback only.
"""

from harness.proxy.process import (
    FaultProxy,
    ProxyCommandFailed,
    ProxyError,
    ProxyEvent,
    ProxyStartFailed,
    RuleCount,
)

__all__ = [
    "FaultProxy",
    "ProxyCommandFailed",
    "ProxyError",
    "ProxyEvent",
    "ProxyStartFailed",
    "RuleCount",
]
