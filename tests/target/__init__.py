"""Tests of the reference model service (targets/model-service), run as real processes."""
