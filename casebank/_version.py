"""The version, in a leaf that capture and the integrations read without importing the package root."""

__version__ = "0.1.0"
