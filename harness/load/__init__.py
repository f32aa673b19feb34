"""The load path: real Locust load in a child process, each request streamed back as an observation.

The harness imports :mod:`harness.load.process`, :mod:`harness.load.config` and
:mod:`harness.load.warm` (children started ahead of their drill) only; Locust and gevent live
in :mod:`harness.load.child`, which runs in its own process and is never imported here.
"""
