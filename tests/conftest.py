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


def pytest_ignore_collect(collection_path, config):
    """The page about scikit-learn's callback API needs that API (scikit-learn >= 1.9).

    With an older scikit-learn (the minimum-versions run of .ci/run uses 1.7),
    ``set_callbacks`` raises a clear error instead (tested in
    tests/test_callbacks.py, which runs in every environment), and the page's
    examples cannot run.
    """
    from skfnn._sklearn_compat import HAS_CALLBACKS

    return not HAS_CALLBACKS and collection_path.name == "monitoring.md"
