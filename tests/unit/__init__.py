"""Fast unit tests: state machines driven by tick(now) on a hand-moved clock, with fakes."""
