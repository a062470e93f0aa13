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

import io
import itertools
import json
import math
import zipfile
import zlib

__all__ = ["MAX_BYTES", "SKFNN_TYPES", "UntrustedTypesError", "dump", "dumps", "load",
           "loads", "untrusted_types"]

#: The default bound on a file's uncompressed size (its schema.json and its arrays), in bytes.
MAX_BYTES = 2 ** 30

# The networks: their states hold an architecture, which bounds their arrays' sizes.
_NETWORK_TYPES = ("skfnn._classifier.FNNClassifier", "skfnn._regressor.FNNRegressor")

#: The types skfnn trusts in a file: its estimators (audited: their state is plain data;
#: an ensemble's is its parameters, its members' seeds and the members, checked on load).
SKFNN_TYPES = (*_NETWORK_TYPES, "skfnn.ensemble.FNNEnsembleClassifier",
               "skfnn.ensemble.FNNEnsembleRegressor")


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
    models = [estimator, *nested]
    for model in list(models):  # an ensemble's fitted members are no parameters
        members = getattr(model, "estimators_", None)
        if isinstance(members, list):
            models += members
    for model in models:
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


# What a zip member that its headers or its compressed stream find damaged raises.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError)


def _named_types(data):
    """Every type the file names that skops does not trust by itself."""
    try:
        return _skops().get_untrusted_types(data=data)
    except (*_ZIP_ERRORS, KeyError, ValueError, TypeError, AttributeError,
            RecursionError) as exc:
        raise _corrupted(exc) from exc


def _fnn_limit(node):
    """(The most values any array of this FNN node's state may hold, its skfnn version).

    The architecture is stored as JSON (``_net.layer_units``), so it is known before
    any array is read: no array of the state is larger than θ, Σ (n_{l-1} + 1) n_l.
    None where the file holds no readable architecture (then the estimator's own
    checks refuse it on load, and the size bound still holds).
    """
    def value(*keys):
        entry = node
        for key in keys:
            entry = entry["content"][key]
        return json.loads(entry["content"])

    try:
        units = [json.loads(n["content"]) for n in
                 node["content"]["content"]["_net"]["content"]["layer_units"]["content"]]
        limit = sum((a + 1) * b for a, b in itertools.pairwise(units))
    except (KeyError, TypeError, ValueError, IndexError):
        limit = None
    try:
        version = value("content", "_skfnn_version")
    except (KeyError, TypeError, ValueError):
        version = "unknown"
    return limit, version


def _array_nodes(schema):
    """(node, its path, the enclosing FNN's (limit, version)) for each node naming a member."""
    stack = [(schema, "", None)]
    while stack:
        node, path, fnn = stack.pop()
        if isinstance(node, dict):
            if f"{node.get('__module__')}.{node.get('__class__')}" in _NETWORK_TYPES:
                fnn = (*_fnn_limit(node), node.get("__class__"))
            if "file" in node:
                yield node, path.lstrip(".") or "at the file's root", fnn
            children = node.items()
        elif isinstance(node, list):
            children = enumerate(node)
        else:
            continue
        for key, child in children:
            step = "" if key == "content" else (f"[{key}]" if isinstance(key, int) else
                                                f".{key}")
            stack.append((child, path + step, fnn))


def _npy_header(zip_file, info):
    """(shape, dtype, header length) of an npy member, reading its first bytes only."""
    from numpy.lib import format as npy

    with zip_file.open(info) as f:
        version = npy.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"npy format version {version}, which skops never writes")
        read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, _, dtype = read(f)
        return shape, dtype, f.tell()


def _check_array(zip_file, info, where, fnn):
    """Refuse an npy member whose header cannot describe an array of this model."""
    try:
        shape, dtype, offset = _npy_header(zip_file, info)
    except _ZIP_ERRORS as exc:
        raise _corrupted(exc) from exc
    except ValueError as exc:
        raise ValueError(f"The array {where} (member {info.filename!r}) is not a valid npy "
                         f"array: {exc}") from exc
    count = math.prod(shape)
    if dtype.hasobject or any(n < 0 for n in shape):
        raise ValueError(f"The array {where} (member {info.filename!r}) declares "
                         f"{dtype} values of shape {shape}: not an array of numbers.")
    if offset + count * dtype.itemsize != info.file_size:
        raise ValueError(
            f"The array {where} (member {info.filename!r}) declares shape {shape} of {dtype} "
            f"({count * dtype.itemsize} bytes) but holds {info.file_size - offset} bytes.")
    if fnn is not None and fnn[0] is not None and count > fnn[0]:
        raise ValueError(
            f"The array {where} (member {info.filename!r}) declares shape {shape}, more "
            f"values than the stored {fnn[2]}'s architecture allows in any of its arrays "
            f"({fnn[0]}, its number of weights); nothing was decompressed"
            + _hint_versions([fnn[1]]))


def _checked_sizes(data, max_bytes):
    """Check the file's sizes before skops reads it; return the skfnn versions it names.

    Refuses (ValueError) a file whose members would inflate beyond ``max_bytes``,
    and any npy member whose header is inconsistent with its size or with the
    architecture of the FNN model holding it, reading nothing but zip headers,
    schema.json and the first bytes of each npy member.
    """
    try:
        zip_file = zipfile.ZipFile(io.BytesIO(data))
        info = zip_file.getinfo("schema.json")
    except (*_ZIP_ERRORS, KeyError, ValueError) as exc:
        raise _corrupted(exc) from exc
    _check_total(info.file_size, max_bytes, "schema.json")
    try:
        schema = json.loads(zip_file.read(info))
    except (*_ZIP_ERRORS, ValueError, RecursionError) as exc:
        raise _corrupted(exc) from exc
    total, seen, versions = info.file_size, set(), set()
    for node, where, fnn in _array_nodes(schema):
        if fnn is not None:
            versions.add(fnn[1])
        try:
            member = zip_file.getinfo(node["file"])
        except (KeyError, TypeError) as exc:
            raise _corrupted(exc) from exc
        if node.get("__id__", id(node)) not in seen:  # skops reads a node once per id
            seen.add(node.get("__id__", id(node)))
            total += member.file_size
            _check_total(total, max_bytes, f"{where} (member {member.filename!r})")
        if node.get("__loader__") == "NdArrayNode" and node.get("type") == "numpy":
            _check_array(zip_file, member, where, fnn)
    return versions


def _check_total(total, max_bytes, where):
    if total > max_bytes:
        raise ValueError(
            f"The file inflates to more than max_bytes={max_bytes} bytes (at {where}: "
            f"{total} bytes so far); nothing was decompressed. If it is a model you trust "
            "that large, pass a larger max_bytes.")


def _hint_versions(versions):
    from ._state import version_hint
    from ._version import __version__

    others = sorted(str(v) for v in versions if v != __version__)
    return version_hint(others[0]) if others else "."


def untrusted_types(data, trusted=(), *, max_bytes=MAX_BYTES):
    """The types ``data`` names that neither skfnn, skops nor ``trusted`` trusts.

    Parameters
    ----------
    data : bytes
        A file's content, as :func:`dumps` writes it.
    trusted : sequence of type or str, default=()
        More types to trust: classes or ``"module.Name"`` strings.
    max_bytes : int, default=MAX_BYTES
        The most bytes the file's members may inflate to (see :func:`loads`).

    Returns
    -------
    types : list of str

    Raises
    ------
    ValueError
        If ``data`` is not a complete skops file, or is too large (see :func:`loads`).
    """
    _checked_sizes(data, max_bytes)
    allowed = set(SKFNN_TYPES) | {_name(t) for t in trusted}
    return [name for name in _named_types(data) if name not in allowed]


def loads(data, *, trusted=(), max_bytes=MAX_BYTES):
    """Load an estimator from bytes, trusting skfnn's types and ``trusted`` only.

    Parameters
    ----------
    data : bytes
    trusted : sequence of type or str, default=()
        Your own classes the file may hold (custom activations or losses),
        as classes or ``"module.Name"`` strings.
    max_bytes : int, default=MAX_BYTES
        The most bytes the file's members (schema.json and arrays) may inflate to,
        1 GiB by default. A larger file is refused before anything is decompressed;
        pass more for a model you trust that large.

    Returns
    -------
    estimator : object

    Raises
    ------
    UntrustedTypesError
        If the file names any other type (nothing is built).
    ValueError
        If the file is truncated or corrupted; if its members inflate beyond
        ``max_bytes``, or an array's header declares more values than its
        bytes hold or than the stored architecture allows (refused before any
        array is read); if a stored piece is unknown to this skfnn (an
        activation or loss of a newer version, say: the message names both
        versions) or the loaded model's pieces disagree (weights vs
        architecture, ``classes_`` vs outputs, a classifier's state under a
        regressor's name).
    """
    versions = _checked_sizes(data, max_bytes)
    named = _named_types(data)
    allowed = set(SKFNN_TYPES) | {_name(t) for t in trusted}
    refused = [name for name in named if name not in allowed]
    if refused:
        raise UntrustedTypesError(refused)
    try:
        return _skops().loads(data, trusted=named)
    except _ZIP_ERRORS as exc:  # bit flips
        raise _corrupted(exc) from exc
    except ValueError:
        raise  # skfnn's own checks, which name the problem
    except Exception as exc:
        raise ValueError(f"The file holds a node that cannot be built: "
                         f"{type(exc).__name__}: {exc}" + _hint_versions(versions)) from exc


def load(file, *, trusted=(), max_bytes=MAX_BYTES):
    """Load an estimator from ``file``, trusting skfnn's types and ``trusted`` only.

    Parameters
    ----------
    file : str, path-like or binary file object
    trusted : sequence of type or str, default=()
        Your own classes the file may hold (custom activations or losses).
    max_bytes : int, default=MAX_BYTES
        The most bytes the file's members may inflate to (see :func:`loads`).

    Returns
    -------
    estimator : object

    Raises
    ------
    UntrustedTypesError
        If the file names any other type (nothing is built).
    ValueError
        If the file is truncated, corrupted, too large or inconsistent (see :func:`loads`).
    """
    return loads(_read(file), trusted=trusted, max_bytes=max_bytes)
