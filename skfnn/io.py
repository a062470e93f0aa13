"""Safe persistence of fitted skfnn models, through skops (the ``io`` extra).

``pickle.load`` runs whatever code a file names: a tampered pickle of an
estimator can call ``os.system`` as it loads. skops' format names every type a
file holds, and loads nothing it was not told to trust. :func:`load` trusts
exactly

- skfnn's own estimator classes (whose fitted state is plain data: builtins,
  numpy arrays, and the names and parameters of built-in activations and
  losses; see ``skfnn._state``),
- what skops itself trusts: Python's builtins, numpy arrays and scikit-learn's
  estimators (so that Pipelines of scikit-learn transformers and FNN
  estimators load),
- the custom activation and loss classes (or any other types) the caller names
  with ``trusted=``,

and refuses every other type the file names, before anything in it is built,
with an :class:`UntrustedTypesError` that lists them. A file that is not a
complete skops file (truncated, or with a flipped bit that its zip checksums
catch) gets a ``ValueError`` saying so, never a half-read model. The skfnn
version that wrote the file travels with each estimator's state; loading under
another version warns (:class:`~skfnn.exceptions.InconsistentVersionWarning`).

Examples
--------
>>> import io
>>> from sklearn.datasets import load_iris
>>> from skfnn import FNNClassifier
>>> from skfnn import io as skfnn_io
>>> X, y = load_iris(return_X_y=True)
>>> clf = FNNClassifier((8,), solver="lbfgs", max_iter=200, random_state=0).fit(X, y)
>>> buffer = io.BytesIO()
>>> skfnn_io.dump(clf, buffer)
>>> loaded = skfnn_io.load(io.BytesIO(buffer.getvalue()))
>>> bool((loaded.predict_proba(X) == clf.predict_proba(X)).all())
True
"""

import zipfile

__all__ = ["SKFNN_TYPES", "UntrustedTypesError", "dump", "dumps", "load", "loads",
           "untrusted_types"]

#: The types skfnn trusts in a file: its estimators (audited: their state is plain data).
SKFNN_TYPES = ("skfnn._classifier.FNNClassifier", "skfnn._regressor.FNNRegressor")


class UntrustedTypesError(ValueError):
    """A file names types that neither skfnn nor the caller trusts; nothing was loaded.

    Attributes
    ----------
    types : list of str
        The untrusted types, as ``module.Name``.
    """

    def __init__(self, types):
        self.types = list(types)
        super().__init__(
            f"The file names types that are not trusted: {self.types}. Nothing was "
            "loaded: building them could run arbitrary code. If you wrote the file and "
            "these are your own classes (a custom activation or loss, say), pass them "
            "to load(..., trusted=[...]) (the classes themselves or their 'module.Name')."
        )


def _skops():
    try:
        import skops.io as sio
    except ImportError as exc:  # pragma: no cover - exercised with the extra missing
        raise ImportError(
            "skfnn.io needs skops, an optional dependency: pip install \"skfnn[io]\""
        ) from exc
    return sio


def _name(t):
    """'module.Name' of a class, or the string as it is."""
    return t if isinstance(t, str) else f"{t.__module__}.{t.__qualname__}"


def dumps(estimator):
    """Return a fitted estimator (or a Pipeline holding one) as bytes in skops' format.

    Parameters
    ----------
    estimator : object
        Typically a fitted FNNRegressor or FNNClassifier, or a Pipeline.

    Returns
    -------
    data : bytes
    """
    _check_numpy_models(estimator)
    return _skops().dumps(estimator)


def _check_numpy_models(estimator):
    """Raise ValueError for an FNN model (or a Pipeline step) fitted on non-numpy arrays.

    skops stores numpy arrays; a model fitted under ``array_api_dispatch`` (PyTorch
    tensors, on a GPU perhaps) is moved to numpy first, with scikit-learn's helper.
    """
    import numpy as np

    from ._array_api import array_namespace, device, name
    from ._base import BaseFNN

    nested = estimator.get_params(deep=True).values() if hasattr(estimator, "get_params") else ()
    for model in [estimator, *nested]:
        theta = getattr(model, "_theta", None) if isinstance(model, BaseFNN) else None
        if theta is not None and not isinstance(theta, np.ndarray):
            raise ValueError(
                f"skfnn.io saves models with numpy arrays; this {type(model).__name__} was "
                f"fitted on {name(array_namespace(theta))} arrays on {device(theta)}. Move it "
                "first: from sklearn.utils._array_api import move_estimator_to; "
                "model = move_estimator_to(model, numpy, 'cpu').")


def dump(estimator, file):
    """Write a fitted estimator (or a Pipeline holding one) to ``file`` in skops' format.

    Parameters
    ----------
    estimator : object
    file : str, path-like or binary file object
        Conventionally named ``*.skops``.
    """
    data = dumps(estimator)
    if hasattr(file, "write"):
        file.write(data)
    else:
        with open(file, "wb") as f:
            f.write(data)


def _read(file):
    if hasattr(file, "read"):
        return file.read()
    with open(file, "rb") as f:
        return f.read()


def _corrupted(exc):
    """The error for a file that the zip format or skops' schema finds damaged."""
    return ValueError("This is not a complete skops file (truncated or corrupted): "
                      f"{type(exc).__name__}: {exc}")


def _named_types(data):
    """Every type the file names that skops does not trust by itself."""
    try:
        return _skops().get_untrusted_types(data=data)
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, NotImplementedError) as exc:
        raise _corrupted(exc) from exc


def untrusted_types(data, trusted=()):
    """The types ``data`` names that neither skfnn, skops nor ``trusted`` trusts.

    Parameters
    ----------
    data : bytes
        A file's content, as :func:`dumps` writes it.
    trusted : sequence of type or str, default=()
        More types to trust: classes or ``"module.Name"`` strings.

    Returns
    -------
    types : list of str

    Raises
    ------
    ValueError
        If ``data`` is not a complete skops file.
    """
    allowed = set(SKFNN_TYPES) | {_name(t) for t in trusted}
    return [name for name in _named_types(data) if name not in allowed]


def loads(data, *, trusted=()):
    """Load an estimator from bytes, trusting skfnn's types and ``trusted`` only.

    Parameters
    ----------
    data : bytes
    trusted : sequence of type or str, default=()
        Your own classes the file may hold (custom activations or losses),
        as classes or ``"module.Name"`` strings.

    Returns
    -------
    estimator : object

    Raises
    ------
    UntrustedTypesError
        If the file names any other type (nothing is built).
    ValueError
        If the file is truncated or corrupted.
    """
    named = _named_types(data)
    allowed = set(SKFNN_TYPES) | {_name(t) for t in trusted}
    refused = [name for name in named if name not in allowed]
    if refused:
        raise UntrustedTypesError(refused)
    try:
        return _skops().loads(data, trusted=named)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:  # bit flips
        raise _corrupted(exc) from exc


def load(file, *, trusted=()):
    """Load an estimator from ``file``, trusting skfnn's types and ``trusted`` only.

    Parameters
    ----------
    file : str, path-like or binary file object
    trusted : sequence of type or str, default=()
        Your own classes the file may hold (custom activations or losses).

    Returns
    -------
    estimator : object

    Raises
    ------
    UntrustedTypesError
        If the file names any other type (nothing is built).
    ValueError
        If the file is truncated or corrupted.
    """
    return loads(_read(file), trusted=trusted)

