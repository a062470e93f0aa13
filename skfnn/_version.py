"""The version of skfnn (read by pyproject.toml without importing the package)."""

__version__ = "0.1.0.dev0"
