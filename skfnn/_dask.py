"""Fitting on dask arrays: full-batch L-BFGS whose (J, ∇J) is summed where the rows live.

``FNNRegressor(solver="lbfgs").fit(X, y)`` with ``X`` a dask array (and a
connected ``distributed.Client``) comes here instead of the in-memory path.
The data never travels to the client:

1. *Validation without materialising the data.* The first rows (at most 256)
   are brought to the client and validated exactly as an in-memory fit
   validates its input (ndim, dtype, number of features); finiteness, the
   sample weights' sign and sum and, for a classifier, the classes
   (``dask.array.unique``, small) are computed on the cluster in one pass;
   the loss's target check runs on every block as it is persisted (3.).
2. *The estimator's own set-up.* :func:`skfnn._problem.build` and
   :func:`skfnn._model.start` run on a stand-in of
   those first rows (for a classifier: one row per class, weighted by the
   class's total weight), so the network, initial weights, label binariser,
   class weights, ``n_features_in_``, warm-start checks and every error
   message are the in-memory fit's.
3. *Blocks on the workers.* Each row block becomes one persisted
   ``(X, Y, s, Σ s)`` bundle in θ's dtype (X with all its columns, Y encoded
   and s weighted as the in-memory fit does it), so a block's X, Y and s sit
   on one worker.
4. *The objective.* Per evaluation θ goes to the cluster once, as a task's
   result (recomputable if its worker is lost, unlike scattered data); one
   task per worker thread computes the unnormalised data terms Σ s_i ℓ_i and
   Σ_i ∂(s_i ℓ_i)/∂θ of each of its blocks with the engine; the client adds
   them in block order (reproducible wherever the blocks lie), then the α
   term, and divides by Σ s, exactly the formula of
   :func:`skfnn._engine.loss_and_gradient`. scipy's L-BFGS runs on
   the client through the estimator's own driver and hooks
   (:func:`skfnn._fitting.train_lbfgs`, :func:`skfnn._training.fit_lbfgs`).

dask and distributed are imported here only, when a dask collection is
fitted: they are the optional extra ``skfnn[dask]``.
"""

import contextlib
import sys
import threading

import numpy as np
from sklearn.utils import check_random_state

from . import _engine, _model, _problem
from ._fitting import train_lbfgs
from ._problem import X_RULES, checked_weights, weighted
from ._training import Run

_INSTALL = 'pip install "skfnn[dask]"'
#: Rows of X brought to the client: validation stand-in and divergence check.
HEAD_ROWS = 256


def is_dask_collection(x):
    """True if x is a dask collection; never imports dask (it is loaded if x is one)."""
    dask = sys.modules.get("dask")
    return dask is not None and dask.is_dask_collection(x)


def fit(estimator, X, y, sample_weight, incremental, validation):
    """Fit ``estimator`` on dask inputs with L-BFGS on the connected cluster; return it.

    As an in-memory fit, a fit that raises leaves the estimator as it was (``fit``
    is transactional: :func:`skfnn._model.transactional`).
    """
    _check_supported(estimator, incremental, validation)
    with _distributed_objective(estimator, X, y, sample_weight) as (objective, net, theta,
                                                                    X_head):
        # The hooks see the first rows of X (the divergence check's outputs), not the data.
        run = Run(estimator, net, theta, X_head, None, None, max_iter=estimator.max_iter,
                  samples_per_epoch=0)
        train_lbfgs(estimator, run, objective=objective)
    return estimator


@contextlib.contextmanager
def _distributed_objective(estimator, X, y, sample_weight):
    """Prepare the estimator and the persisted blocks; yield (objective, net, θ, first rows).

    The blocks and the network sent to the workers are released on exit.
    """
    client = _client()
    data = _Inputs(estimator, X, y, sample_weight)
    problem = _problem.build(estimator, *data.stand_in(), incremental=False)
    theta = _model.start(estimator, problem, check_random_state(estimator.random_state))
    net = problem.net
    weigh = data.class_weigher(estimator)
    blocks = _persist_blocks(client, data, _Encoder(estimator, net, weigh, theta.dtype))
    objective = None
    try:
        objective = DistributedObjective(client, blocks, net, theta)
        yield objective, net, theta, data.X_head.astype(theta.dtype, copy=False)
    finally:
        client.cancel(blocks + ([objective.network] if objective else []))


def _check_supported(estimator, incremental, validation):
    guide = ("To train out of core with a stochastic solver, call partial_fit on one "
             "block at a time (numpy arrays), e.g. through dask_ml.wrappers.Incremental, "
             "or loop over the chunks of a numpy memmap: see docs/scaling.md, "
             "'Out-of-core training'.")
    if incremental:
        raise TypeError(f"partial_fit does not take dask arrays. {guide}")
    if estimator.solver != "lbfgs":
        raise ValueError(
            f"solver={estimator.solver!r} cannot fit dask arrays: only solver='lbfgs' "
            f"(full-batch, its loss and gradient summed on the cluster) does. {guide}"
        )
    if validation is not None and any(v is not None for v in validation):
        raise ValueError("X_val, y_val and sample_weight_val are not supported when fitting "
                         "dask arrays; score the fitted model on held-out data afterwards.")
    if getattr(estimator, "_skl_callbacks", None):
        raise ValueError("Callbacks (set_callbacks) are not supported when fitting dask "
                         "arrays.")


def _client():
    try:
        from distributed import get_client
    except ImportError as error:
        raise ImportError(
            f"Fitting on dask arrays needs dask.distributed: {_INSTALL}"
        ) from error
    try:
        return get_client()
    except ValueError:
        raise ValueError(
            "Fitting on dask arrays runs on a dask.distributed cluster, and no Client is "
            "connected: create one first, e.g. Client(LocalCluster()) or "
            "Client('tcp://scheduler-address:8786')."
        ) from None


class _Inputs:
    """X, y and sample_weight as dask arrays aligned on X's row blocks, checked on the cluster.

    Attributes after construction: ``X``, ``y``, ``sw`` (or None) with X's
    row chunks and X in one column chunk; ``X_head`` (validated first rows);
    ``y_head`` or, for a classifier, ``classes`` (and ``class_totals`` for
    ``class_weight="balanced"``).
    """

    def __init__(self, estimator, X, y, sample_weight):
        import dask
        from sklearn.base import is_classifier
        from sklearn.utils.validation import check_array

        self.classifier = is_classifier(estimator)
        X = _as_dask_array(X, "X", None)
        rows = X.chunks[0] if X.ndim else None
        y = _as_dask_array(y, "y", rows)
        sw = _weights_as_dask_array(sample_weight, X.shape[0], rows)
        # ndim, dtype, n_features, n_samples: scikit-learn's checks on the first rows.
        self.X_head = check_array(X[:HEAD_ROWS].compute(), **X_RULES, input_name="X",
                                  estimator=estimator, ensure_all_finite=False)
        _check_lengths(X, y, sw)
        if self.classifier and y.ndim == 2 and y.shape[1] != 1:
            raise ValueError(
                "FNNClassifier on dask arrays takes binary or multiclass targets "
                f"(1-D y); got y of shape {y.shape}. Fit multilabel targets in memory."
            )
        self.X = X.rechunk({1: -1})  # row blocks only: each block holds whole samples
        self.y = y.rechunk({0: rows})
        self.sw = None if sw is None else sw.rechunk({0: rows})
        found = dask.compute(self._reductions())[0]
        self._raise_on(found, estimator)
        self.classes, self.y_head = found.get("classes"), found.get("y_head")
        balanced = self.classifier and getattr(estimator, "class_weight", None) == "balanced"
        self.class_totals = self._class_totals() if balanced else None

    def _reductions(self):
        """The lazy checks and summaries, computed together in one pass over the data."""
        import dask.array as da

        lazy = {"X": _non_finite(self.X)}
        if self.classifier:  # NaN labels come out among the classes, as in memory
            lazy["classes"] = da.unique(self.y.ravel())
        else:
            lazy.update(y=_non_finite(self.y), y_head=self.y[:HEAD_ROWS])
        if self.sw is not None:
            sw = self.sw.astype(_float_dtype(self.sw.dtype))
            lazy.update(sample_weight=_non_finite(sw), sw_min=sw.min(), sw_sum=sw.sum())
        return lazy

    def _class_totals(self):
        """Σ s (or the count) of each class, summed block by block on the cluster."""
        import dask

        parts = [dask.delayed(_class_totals)(yb, sb, self.classes)
                 for _, yb, sb in self.row_blocks()]
        return np.sum(dask.compute(parts)[0], axis=0)

    def _raise_on(self, found, estimator):
        dtypes = {"X": self.X_head.dtype, "y": _float_dtype(self.y.dtype)}
        for name, dtype in dtypes.items():
            if name in found:
                _raise_if_non_finite(name, found[name], dtype, estimator)
        if self.sw is not None:
            # The in-memory checks, and their messages, on one representative weight.
            has_nan, has_inf = found["sample_weight"]
            worst = (np.nan if has_nan else np.inf if has_inf
                     else min(found["sw_min"], 0.0) if found["sw_min"] < 0
                     else 0.0 if not found["sw_sum"] > 0 else 1.0)
            checked_weights(np.array([worst]), np.zeros((1, 1)), "sample_weight")

    def stand_in(self):
        """Small numpy (X, y, s) that validate as the full data would, for ``_problem.build``.

        A classifier's stand-in y is its classes, one each: the label encoding
        (``dask.array.unique`` on the cluster) is learned from them, and its
        stand-in weights are the classes' total weights, which is all that
        ``class_weight="balanced"`` reads.
        """
        if self.classifier:  # a column y keeps its shape: the in-memory fit's warning
            y = self.classes.reshape(-1, 1) if self.y.ndim == 2 else self.classes
            sw = self.class_totals
        else:
            y = self.y_head
            sw = None if self.sw is None else np.ones(len(y))
        rows = np.arange(len(y)) % max(len(self.X_head), 1)
        return self.X_head[rows], y, sw

    def class_weigher(self, estimator):
        """``weigh(labels, Y)`` of the estimator's class_weight, or None (regressor: None)."""
        if not self.classifier:
            return None
        return estimator._class_weigher(self.classes, None, self.class_totals, False)

    def row_blocks(self):
        """Yield (X block, y block, s block or None) as delayed objects, in row order."""
        Xs = self.X.to_delayed().ravel()
        ys = self.y.to_delayed().ravel()
        sws = self.sw.to_delayed().ravel() if self.sw is not None else [None] * len(Xs)
        return zip(Xs, ys, sws, strict=True)


def _weights_as_dask_array(sample_weight, n_samples, rows):
    """None, a scalar (n copies of it, as scikit-learn) or an array, as a dask array."""
    import dask.array as da

    if sample_weight is None or not np.isscalar(sample_weight):
        return None if sample_weight is None else _as_dask_array(sample_weight,
                                                                 "sample_weight", rows)
    return da.full(n_samples, sample_weight, chunks=(rows,))


def _as_dask_array(a, name, rows):
    """``a`` as a dask array (numpy input chunked along ``rows``); reject dask dataframes."""
    import dask.array as da

    if is_dask_collection(a):
        if not isinstance(a, da.Array):
            raise TypeError(
                f"{name} is a {type(a).__name__}; skfnn fits dask arrays: pass "
                f"{name}.to_dask_array(lengths=True)."
            )
        if a.ndim and any(np.isnan(c) for c in a.chunks[0]):
            raise ValueError(
                f"{name} has unknown chunk sizes; call {name}.compute_chunk_sizes() first."
            )
        if not isinstance(a._meta, np.ndarray):
            raise TypeError(
                f"{name}'s blocks are {type(a._meta).__name__}, not numpy arrays; skfnn fits "
                "dask arrays of numpy blocks."
            )
        return a
    a = np.asarray(a)
    return da.from_array(a, chunks=(rows,) + a.shape[1:] if a.ndim else ())


def _check_lengths(X, y, sample_weight):
    """scikit-learn's checks (and messages) of the lengths of y and the sample weights."""
    from sklearn.utils.validation import check_consistent_length

    from ._sklearn_compat import _check_sample_weight

    check_consistent_length(X, y)
    if sample_weight is None:
        return
    n = X.shape[0]
    if sample_weight.ndim != 1:  # the message of this scikit-learn, from a stand-in
        _check_sample_weight(np.ones((1,) * sample_weight.ndim),
                             np.broadcast_to(np.zeros(1), (n, 1)))
    if sample_weight.shape != (n,):
        raise ValueError(f"sample_weight.shape == {sample_weight.shape}, expected {(n,)}!")


def _float_dtype(dtype):
    """float32 and float64 stay; anything else becomes float64 (as scikit-learn's checks)."""
    return dtype if dtype in (np.float32, np.float64) else np.float64


def _non_finite(a):
    """Lazy (has NaN, has ±inf) of a numeric dask array; (False, False) for integer kinds."""
    if a.dtype.kind in "biu":
        return False, False
    a = a.astype(_float_dtype(a.dtype))
    return np.isnan(a).any(), np.isinf(a).any()


def _raise_if_non_finite(name, found, dtype, estimator):
    """Raise scikit-learn's own error for non-finite input, from the cluster's reductions.

    The message comes from ``check_array`` on one offending value, so that it
    is word for word the in-memory fit's.
    """
    from sklearn.utils.validation import check_array

    has_nan, has_inf = found
    if has_nan or has_inf:
        value = np.full((1, 1), np.nan if has_nan else np.inf, dtype=dtype)
        check_array(value, input_name=name,
                    estimator=None if name == "sample_weight" else estimator)


def _class_totals(y, sample_weight, classes):
    """Σ s of each class in one block (counts without weights)."""
    return np.bincount(np.searchsorted(classes, np.ravel(y)), weights=sample_weight,
                       minlength=len(classes))


class _Encoder:
    """Turns a block's (y, s) into the engine's (Y, s) exactly as an in-memory fit encodes them.

    The classifier's label binariser, the class weights folded into s (as
    ``_problem.build`` does) and the loss's target check, applied on the
    worker that holds the block.
    """

    def __init__(self, estimator, net, weigh, dtype):
        from .losses import optional

        binarizer = getattr(estimator, "_label_binarizer", None)
        self.transform = None if binarizer is None else binarizer.transform
        self.weigh, self.dtype = weigh, dtype
        self.check_target = optional(net.loss, "check_target")

    def __call__(self, X, y, sample_weight):
        X = np.asarray(X).astype(self.dtype, copy=False)
        labels = np.ravel(y) if self.transform is not None else y
        Y = y if self.transform is None else self.transform(labels)
        Y = np.asarray(Y).reshape(len(X), -1)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=_float_dtype(sample_weight.dtype))
        sample_weight = weighted(sample_weight, X, self.weigh, labels, Y)
        if self.check_target is not None:
            self.check_target(Y)
        return X, Y.astype(self.dtype, copy=False), sample_weight


def _persist_blocks(client, data, encode):
    """One persisted (X, Y, s, Σ s) bundle per row block, in θ's dtype; return their futures.

    Making a bundle on the cluster keeps a block's X, Y and s on one worker;
    where X is already persisted in θ's dtype, the bundle holds the same
    array (no copy).
    """
    import dask

    bundles = [dask.delayed(_bundle, pure=True)(Xb, yb, sb, encode)
               for Xb, yb, sb in data.row_blocks()]
    futures = client.compute(bundles)
    client.gather(futures)  # raise here if a block fails (e.g. the loss's target check)
    return futures


def _bundle(X, y, sample_weight, encode):
    X, Y, sample_weight = encode(X, y, sample_weight)
    sw_sum = float(len(X)) if sample_weight is None else float(sample_weight.sum())
    return X, Y, sample_weight, sw_sum


class _Network:
    """What a worker needs besides θ, sent once per fit: the network without α
    (the client adds α), a workspace per worker thread, and whether the first
    evaluation (through the checked network, as in memory) is done."""

    def __init__(self, net):
        self.net = net.replace(alpha=0.0)
        self._workspaces = {}
        self._checked = False

    def __getstate__(self):
        return {**vars(self), "_workspaces": {}}

    def next_net(self):
        """The checked twin on this worker's first evaluation, then the network itself."""
        if self._checked:
            return self.net
        self._checked = True
        return self.net.checked()

    def workspace(self, n_rows, dtype):
        from ._engine import Workspace

        key = threading.get_ident()
        ws = self._workspaces.get(key)
        if ws is None or ws.n_samples < n_rows:
            ws = self._workspaces[key] = Workspace(self.net, n_rows, dtype)
        return ws.rows(n_rows)


def block_terms(theta, network, bundles):
    """[(Σ s_i ℓ_i, Σ_i ∂(s_i ℓ_i)/∂θ, Σ s_i) of each block]: a worker's share of J and ∇J.

    The terms come back one per block, without α, and the client adds them in
    block order: a sum whose order depends on which worker holds which block
    would change with the placement from one fit to the next. The engine
    returns a block's normalised (J, ∇J); with α = 0, times the block's Σ s,
    they are its unnormalised data terms. A block whose weights are all zero
    contributes nothing (and would divide 0 by 0): None.
    """
    from ._threads import blas_threads_for

    rows = max(bundle[0].shape[0] for bundle in bundles)
    theta = _aligned(theta)
    with blas_threads_for(rows, network.net.layer_units):  # as the in-memory fit
        return [_block_terms(theta, network, *map(_aligned, bundle)) for bundle in bundles]


#: The alignment in bytes of every array a block's terms are computed from.
ALIGNMENT = 64


def _aligned(a):
    """``a``, or for an ndarray not on a ``ALIGNMENT``-byte boundary, an aligned copy.

    An array received from another worker lies where its message put it, at
    any offset, even off its item size: numpy then multiplies it without
    BLAS, and its sums split differently, so that the same block would give
    other last bits on another worker.
    """
    if not isinstance(a, np.ndarray) or a.ctypes.data % ALIGNMENT == 0:
        return a
    buffer = np.empty(a.nbytes + ALIGNMENT, dtype=np.uint8)
    start = -buffer.ctypes.data % ALIGNMENT
    out = buffer[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def _block_terms(theta, network, X, Y, sample_weight, sw_sum):
    from ._engine import loss_and_gradient

    if sw_sum == 0:  # weights are non-negative: all of them are zero
        return None
    J, g = loss_and_gradient(network.next_net(), theta, X, Y, sample_weight, None,
                             network.workspace(X.shape[0], theta.dtype))
    return J * sw_sum, np.multiply(g, sw_sum, out=g), sw_sum


def _sum_in_block_order(terms):
    """(Σ s ℓ, Σ ∂(s ℓ)/∂θ, Σ s) over the blocks' terms, added in block order."""
    J, grad, sw_sum = 0.0, None, 0.0
    for term in terms:
        if term is None:
            continue
        J, sw_sum = J + term[0], sw_sum + term[2]
        grad = term[1].copy() if grad is None else np.add(grad, term[1], out=grad)
    return J, grad, sw_sum


class DistributedObjective:
    """``fun(x) -> (J, ∇J)`` for scipy's L-BFGS, summed over the row blocks on the cluster.

    The blocks' terms are added in block order, whichever worker computed
    them: the same fit on the same blocks gives the same iterates to the last
    bit, however the blocks are placed, and after a worker is lost (its blocks
    recomputed from the graph elsewhere) as without.

    Parameters
    ----------
    client : distributed.Client
    blocks : list of Future
        The persisted (X, Y, s, Σ s) bundles (see :func:`_persist_blocks`).
    net : Network
        The network being trained (its α is added here, on the client).
    theta : ndarray
        The estimator's θ: each evaluation writes x there (so the fitted
        coefs_ views follow) and evaluates in its dtype, as the in-memory fit.
    """

    def __init__(self, client, blocks, net, theta):
        self.client, self.layout, self.alpha = client, net.layout, net.alpha
        self.theta, self.blocks = theta, blocks
        # A task's result, not scattered data: a worker lost with it can be recomputed.
        self.network = client.submit(_Network, net, pure=False)
        self.groups = _groups_per_thread(client, blocks)
        self.workers = list(client.nthreads())

    def __call__(self, x):
        theta = self.theta
        theta[...] = x
        theta_f = self.client.submit(_identity, theta.copy(), pure=False)
        terms = _gather_or_explain(self.client, self.workers, [
            self.client.submit(block_terms, theta_f, self.network,
                               [self.blocks[i] for i in indices], workers=[worker],
                               allow_other_workers=True, pure=False)
            for worker, indices in self.groups
        ])
        in_order = [None] * len(self.blocks)
        for (_, indices), group_terms in zip(self.groups, terms, strict=True):
            for i, term in zip(indices, group_terms, strict=True):
                in_order[i] = term
        J, grad, sw_sum = _sum_in_block_order(in_order)
        # J = Σ s ℓ / Σ s + α/(2 Σ s) ‖W‖² and ∇J = (Σ ∂(sℓ)/∂θ + α W) / Σ s, as the engine
        # (s: the weights with the class weights folded in, summed over the blocks):
        W = theta[self.layout.coefs]
        J = J / sw_sum + float(_engine.penalty(self.alpha, self.layout.weight_vectors(theta),
                                               sw_sum))
        grad[self.layout.coefs] += self.alpha * W
        grad /= sw_sum
        return J, grad.astype(np.float64)


def _identity(x):
    return x


def _gather_or_explain(client, workers, futures):
    """The futures' results; a lost worker whose data cannot be recomputed, a clear error.

    Blocks built by a graph (``da.from_array``, ``da.from_zarr``, ``persist``)
    are recomputed elsewhere when their worker dies, and the evaluation gives
    the same (J, ∇J); data that lived only on the worker (``client.scatter``)
    cannot be, and distributed cancels the evaluation. ``workers``: the
    cluster's workers when the fit started.
    """
    from distributed import KilledWorker
    from distributed.client import FutureCancelledError

    try:
        return client.gather(futures)
    except (FutureCancelledError, KilledWorker) as error:
        gone = sorted(set(workers) - set(client.nthreads()))
        raise RuntimeError(
            "The dask cluster lost data that the L-BFGS fit needs"
            + (f" (workers gone since the fit started: {', '.join(gone)})" if gone else "")
            + f": {type(error).__name__}: {str(error).rstrip('.')}. A lost block is "
            "recomputed only if the graph can make it again: build the dask arrays from "
            "their source "
            "(da.from_array, da.from_zarr, ...) or .persist() them rather than "
            "client.scatter their blocks. The estimator is left as it was."
        ) from error


def _groups_per_thread(client, blocks):
    """[(worker, [block indices])]: the blocks each worker holds, split among its
    threads (where they are when the fit starts; a lost block is recomputed elsewhere and
    its task follows it, as ``allow_other_workers`` lets it)."""
    who_has = client.who_has(blocks)
    nthreads = client.nthreads()
    by_worker = {}
    for i, future in enumerate(blocks):
        by_worker.setdefault(who_has[future.key][0], []).append(i)
    groups = []
    for worker, indices in by_worker.items():
        n = max(1, min(nthreads.get(worker, 1), len(indices)))
        groups.extend((worker, indices[i::n]) for i in range(n))
    return groups
