"""Tests of the load path: harm rules, the load config, and real Locust loads."""
