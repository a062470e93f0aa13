"""Collection rules for the whole repository (pytest reads this before any test)."""

from importlib.util import find_spec


def pytest_ignore_collect(collection_path, config):
    """Two pages need what not every environment has.

    The page about scikit-learn's callback API needs that API (scikit-learn >= 1.9).
    With an older scikit-learn (the minimum-versions run of .ci/run uses 1.7),
    ``set_callbacks`` raises a clear error instead (tested in
    tests/test_callbacks.py, which runs in every environment), and the page's
    examples cannot run.

    The page about GPUs and the array API trains on PyTorch arrays under
    scikit-learn's array_api_dispatch: it needs PyTorch and what dispatching needs
    (scikit-learn >= 1.9, SCIPY_ARRAY_API=1). Where an environment declares itself
    an array-API test environment, tests/test_array_api.py fails if any is missing.
    """
    from skfnn._array_api import dispatch_possible
    from skfnn._sklearn_compat import HAS_CALLBACKS

    if collection_path.name == "monitoring.md" or (
            collection_path.name == "callbacks.py" and collection_path.parent.name == "skfnn"):
        # The page, and skfnn.callbacks' doctest (Checkpoint); else pytest decides.
        return True if not HAS_CALLBACKS else None
    if collection_path.name == "array_api.md":
        return not (dispatch_possible() and find_spec("torch") is not None)
    return None  # pytest decides: False would override --ignore and norecursedirs
