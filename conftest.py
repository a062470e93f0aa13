"""Collection rules for the whole repository (pytest reads this before any test)."""


def pytest_ignore_collect(collection_path, config):
    """The page about scikit-learn's callback API needs that API (scikit-learn >= 1.9).

    With an older scikit-learn (the minimum-versions run of .ci/run uses 1.7),
    ``set_callbacks`` raises a clear error instead (tested in
    tests/test_callbacks.py, which runs in every environment), and the page's
    examples cannot run.
    """
    from skfnn._sklearn_compat import HAS_CALLBACKS

    return not HAS_CALLBACKS and collection_path.name == "monitoring.md"
