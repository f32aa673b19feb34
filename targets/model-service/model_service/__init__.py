"""govdrill's reference model service: a trigram generator with a control plane to drill."""

__version__ = "0.1.0"
