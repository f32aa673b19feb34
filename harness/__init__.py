"""govdrill: stop a real model service through real control paths and measure how long harm went on."""

__version__ = "0.1.0"

__all__ = ["__version__"]
