"""scikit-learn's own estimator checks, in full, on the estimators and the ensembles.

The estimators declare ``array_api_support``, so the checks include scikit-learn's
array-API checks: every namespace and device scikit-learn knows (numpy,
array-api-strict on two devices, PyTorch on cpu / cuda / xpu / mps, CuPy, dpnp)
and mixed inputs. A check for a library that is not installed, or for a device
this machine does not have, cannot run anywhere here; scikit-learn would collect
it and skip it. It is not collected (:func:`runnable_here`), so that every skip
that remains says something about skfnn, not about the machine. On a CUDA machine
with PyTorch's CUDA build the CUDA checks are collected and run. Where the array
API cannot dispatch at all (no SCIPY_ARRAY_API=1, scikit-learn < 1.9) the
remaining array-API checks skip themselves; CI's first environment has all of it
and tests/test_array_api.py fails there if anything is missing.
"""

from importlib.util import find_spec

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfnn import FNNClassifier, FNNRegressor
from skfnn.ensemble import FNNEnsembleClassifier, FNNEnsembleRegressor


def _device_exists(namespace, device):
    """True if ``namespace`` is installed and ``device`` (None: its default) exists."""
    if find_spec(namespace) is None:
        return False
    if namespace == "torch" and device in ("cuda", "xpu", "mps"):
        import torch

        if device == "mps":
            return torch.backends.mps.is_available()
        backend = getattr(torch, device, None)
        return backend is not None and backend.is_available()
    if namespace == "cupy":
        import cupy

        try:
            return cupy.cuda.runtime.getDeviceCount() > 0
        except cupy.cuda.runtime.CUDARuntimeError:
            return False
    if namespace == "dpnp":
        import dpctl

        return bool(dpctl.get_devices(device_type=device or "all"))
    return True


def namespaces_and_devices(check):
    """The (namespace, device) pairs an array-API check puts its inputs on (or [])."""
    kwargs = getattr(check, "keywords", {})
    pairs = [(kwargs["array_namespace"], kwargs.get("device_name"))] \
        if "array_namespace" in kwargs else []
    pairs += [(value.xp, value.device) for value in kwargs.values()
              if hasattr(value, "xp") and hasattr(value, "device")]
    return pairs


def runnable_here(param):
    """False for a check whose library is not installed or whose device is absent."""
    check = param[1] if isinstance(param, tuple) else param.values[1]
    return all(_device_exists(ns, dev) for ns, dev in namespaces_and_devices(check))


# The ensembles with two members of 60 epochs: enough for the checks that score a fit
# (check_regressors_train asks for R² > 0.5), a few seconds for the whole suite.
ESTIMATORS = [FNNClassifier(), FNNRegressor(),
              FNNEnsembleClassifier(FNNClassifier(max_iter=60), n_estimators=2),
              FNNEnsembleRegressor(FNNRegressor(max_iter=60), n_estimators=2)]
_ALL = parametrize_with_checks(ESTIMATORS)
ALL_CHECKS = list(_ALL.args[1])  # a generator in scikit-learn 1.7
CHECKS = [param for param in ALL_CHECKS if runnable_here(param)]
NOT_HERE = [param for param in ALL_CHECKS if not runnable_here(param)]


@pytest.mark.parametrize(_ALL.args[0], CHECKS, **_ALL.kwargs)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


ACCELERATORS = ("cuda", "xpu", "mps", "gpu")
GPU_ONLY_LIBRARIES = ("cupy", "dpnp")


def test_only_checks_for_absent_libraries_and_devices_are_left_out():
    """What is left out is exactly what needs a library or a device missing here.

    The rule is per check: a check of mixed inputs (array-api-strict's device1 and
    PyTorch's cpu, say) is left out where one of its libraries is missing, although
    the other is installed; every left-out check needs at least one absent library
    or an accelerator (PyTorch's cuda, xpu, mps; CuPy; dpnp).
    """
    def needs_what_is_missing(param):
        return any(find_spec(namespace) is None or device in ACCELERATORS
                   or namespace in GPU_ONLY_LIBRARIES
                   for namespace, device in namespaces_and_devices(param[1]))

    for param in NOT_HERE:
        assert needs_what_is_missing(param), namespaces_and_devices(param[1])
    # Conversely, a check on installed libraries on the host's CPU is never left out.
    assert all(runnable_here(param) for param in ALL_CHECKS if not needs_what_is_missing(param))
    # Every check of numpy, and of anything installed on the host's CPU, is kept.
    kept = {pair for param in CHECKS for pair in namespaces_and_devices(param[1])}
    host = {("numpy", None), ("array_api_strict", "CPU_DEVICE"),
            ("array_api_strict", "device1"), ("torch", "cpu")}
    present = {pair for pair in host if find_spec(pair[0]) is not None}
    if any(namespaces_and_devices(param[1]) for param in ALL_CHECKS):
        assert present <= kept
    assert len(CHECKS) + len(NOT_HERE) == len(ALL_CHECKS)
