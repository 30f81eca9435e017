"""The package version (pyproject.toml reads it here) and the API version it is built for."""

from ._generated.meta import API_VERSION

__all__ = ["API_VERSION", "__version__"]

__version__ = "0.1.0"
