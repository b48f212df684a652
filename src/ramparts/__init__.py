"""Ramparts: a self-hosted zero-trust connectivity platform."""

__version__ = "0.1.0"
