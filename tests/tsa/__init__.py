"""Trusted time (RFC 3161) tests against a real local TSA; its reusable helper is local_tsa."""
