"""Shared pytest configuration."""

from importlib import metadata
from pathlib import Path

import skfnn

DEPENDENCIES = ("numpy", "scipy", "scikit-learn", "threadpoolctl")


def pytest_report_header(config):
    """Name the skfnn under test and its dependencies' versions in the run's header.

    .ci/run runs the suite twice, on the source tree with the newest dependencies
    and on the installed wheel with the oldest supported ones; the header shows
    which package and which versions each run actually imported.
    """
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in DEPENDENCIES)
    return [
        f"skfnn {skfnn.__version__} imported from {Path(skfnn.__file__).parent}",
        f"with {versions}",
    ]

