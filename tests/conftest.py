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



# The quick subset (`python -m pytest -m "not slow"`, README's Quick start) leaves out
# what costs most and is least likely to break in everyday work: whole modules that
# start clusters, subprocesses or PyTorch, and the tests that took over 3 s each in a
# full run on a 2-core machine. Matched by node id, so that files other work edits
# need no decorator.
SLOW_MODULES = ("tests/test_dask.py", "tests/test_array_api.py", "tests/test_properties.py",
                "docs/array_api.md", "docs/user_guide.md", "docs/scaling.md")
SLOW_TESTS = (
    "tests/test_packaging.py::test_main_job",
    "tests/test_packaging.py::test_python_m_skfnn_help",
    "tests/test_plotting.py::test_import_skfnn_does_not_import_matplotlib",
    "tests/test_init.py::test_orthogonal_weights_have_orthonormal_columns_or_rows",
    "tests/test_sklearn_agreement.py::test_lbfgs_is_bit_identical_to_scikit_learn",
    "tests/test_parity.py::test_parity[",  # the whole matrix; the deliberate differences stay
)


def is_slow(nodeid):
    """True for a test of the slow set: its module, its name, or an array-API check."""
    return (nodeid.startswith(SLOW_MODULES) or nodeid.startswith(SLOW_TESTS)
            or ("test_sklearn_checks.py" in nodeid and "array_api" in nodeid))


def pytest_collection_modifyitems(config, items):
    import pytest

    for item in items:
        if is_slow(item.nodeid):
            item.add_marker(pytest.mark.slow)
