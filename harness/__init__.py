"""govdrill: stop a real model service through its real control paths; measure the harm."""

__version__ = "0.1.0"

__all__ = ["__version__"]
