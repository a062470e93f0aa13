"""FNNClassifier: a feed-forward network for classification."""

from types import SimpleNamespace

import numpy as np
from scipy.special import log_softmax, logsumexp
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_array
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d

from . import _array_api, _docstrings
from ._array_api import array_namespace, concat, on_device, to_numpy
from ._base import BaseFNN, transactional
from ._sklearn_compat import (
    StrOptions,
    _check_partial_fit_first_call,
    _fit_context,
    get_namespace_and_device,
    move_to,
    with_callbacks,
)
from ._transform import HiddenFeaturesMixin
from .activations import ACTIVATIONS, Logistic, Softmax
from .activations import optional as activation_optional
from .losses import BinaryLogLoss, get_loss
from .losses import optional as loss_optional

__all__ = ["FNNClassifier"]


class FNNClassifier(ClassifierMixin, HiddenFeaturesMixin, BaseFNN):
    __doc__ = (
        """Feed-forward neural network classifier on skfnn's δ-backprop engine.

    A drop-in replacement for scikit-learn's ``MLPClassifier``: the same
    parameters with the same defaults and meaning, the same fitted attributes,
    plus pluggable activations (per layer too), losses and output activation.
    Binary and multilabel targets get one logistic unit per label, multiclass
    targets a softmax output.
"""
        + _docstrings.PARAMETERS
        + """    loss : str or Loss, default="log_loss"
        "log_loss" (cross-entropy: multinomial with softmax, Bernoulli per unit
        with an elementwise output), another loss name such as
        "squared_error", or a :class:`~skfnn.losses.Loss` object.
    out_activation : "auto", str or Activation, default="auto"
        The output activation; "auto" is softmax for multiclass targets and
        logistic otherwise. Multiclass targets need softmax; binary and
        multilabel ones accept any elementwise activation with values in [0, 1].
"""
        + _docstrings.ATTRIBUTES
        + """    classes_ : ndarray or list of ndarray
        The class labels (for multilabel, one 0/1 label per output). Under
        ``array_api_dispatch``, numeric labels are an array of y's namespace
        and device, as in scikit-learn's array-API classifiers.

    See Also
    --------
    FNNRegressor : The regressor.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skfnn import FNNClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = FNNClassifier((10,), solver="lbfgs", max_iter=1000, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    >>> clf.score(X, y) > 0.95
    True
    """
    )

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 loss="log_loss", out_activation="auto", scoring=None, dropout=0.0,
                 init="glorot_uniform", weight_decay=0.01, rho=0.9, warmup_epochs=0,
                 clip_norm=None, class_weight=None):
        self._store_params(locals())

    _parameter_constraints: dict = {
        **BaseFNN._parameter_constraints,
        "class_weight": [dict, list, StrOptions({"balanced"}), None],
    }

    # ------------------------------------------------------------------
    # Targets
    # ------------------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset, classes=None):
        # Labels are encoded on the host (the network sees the encoded Y on X's
        # device); classes_ go back to where y lives, as LogisticRegression keeps them.
        y_home, y = _home(y), _host(y)
        X, y = self._check_Xy(X, y, reset)
        check_classification_targets(y)
        # The partial_fit rules read the classes on the host (classes_ may be on a GPU).
        seen = SimpleNamespace(classes_=self._label_binarizer.classes_
                               if hasattr(self, "classes_") else None)
        if incremental and _check_partial_fit_first_call(seen, _host(classes)):
            multilabel = type_of_target(y).startswith("multilabel")
            self._label_binarizer = LabelBinarizer().fit(y if multilabel else _host(classes))
            self.classes_ = _labels_to(self._label_binarizer.classes_, y_home)
        elif not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = _labels_to(self._label_binarizer.classes_, y_home)
        else:
            self._check_known_classes(unique_labels(y))
        classes = self._label_binarizer.classes_
        if self._label_binarizer.y_type_ != "multilabel-indicator" and len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, but "
                f"the data contains only one class: {classes[0]}."
            )
        # One byte per label, as scikit-learn; minibatches are cast as they are drawn.
        return X, self._one_hot(y), y

    def _one_hot(self, y):
        """The 0/1 targets of labels ``y`` (known classes), as LabelBinarizer.transform.

        For single-label targets a comparison with the classes, the same booleans
        without LabelBinarizer's second validation of y (half of partial_fit's time
        on small chunks).
        """
        binarizer = self._label_binarizer
        if binarizer.y_type_ not in ("binary", "multiclass") or y.ndim != 1:
            return binarizer.transform(y).astype(bool)
        classes = binarizer.classes_
        if len(classes) == 2:  # one column: the positive (second) class
            return (y == classes[1])[:, np.newaxis]
        return y[:, np.newaxis] == classes[np.newaxis, :]

    def _encode_validation_target(self, y, X):
        y = check_array(_host(y), ensure_2d=False, dtype=None, input_name="y_val")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        multilabel = self._label_binarizer.y_type_ == "multilabel-indicator"
        classes = self._label_binarizer.classes_
        if multilabel != type_of_target(y).startswith("multilabel") or (
                multilabel and y.shape[1] != len(classes)):
            raise ValueError(
                f"y_val is {type_of_target(y)} but the training target is "
                f"{self._label_binarizer.y_type_}"
                + (f" with {len(classes)} labels." if multilabel else ".")
            )
        unseen = np.setdiff1d(unique_labels(y), classes)
        if unseen.size:
            raise ValueError(
                f"y_val has classes {list(unseen)} that are not in the training data's "
                f"classes {list(classes)}."
            )
        return self._one_hot(y), y

    def _class_weigher(self, labels, Y, sample_weight, incremental):
        """Each sample's class weight, as LogisticRegression (multilabel: per label, multiplied)."""
        if self.class_weight is None:
            return None
        if incremental and self.class_weight == "balanced":
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit: the class "
                "frequencies of one batch are not those of the data. Use "
                "compute_class_weight('balanced', classes=classes, y=y) on a large enough "
                "sample of the targets, and pass the resulting weights as a dict "
                "class_weight={class: weight}."
            )
        if self._label_binarizer.y_type_ == "multilabel-indicator":
            return _label_weigher(self.class_weight, Y)
        known = self._label_binarizer.classes_
        table = compute_class_weight(self.class_weight, classes=known, y=labels,
                                     sample_weight=sample_weight)
        return lambda labels, Y: table[np.searchsorted(known, labels)]

    def _check_known_classes(self, classes):
        known = self._label_binarizer.classes_
        if self.warm_start:
            if set(classes) != set(known):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as "
                    f"in the previous call to fit. Previously got {known}, "
                    f"`y` has {classes}"
                )
        elif len(np.setdiff1d(classes, known, assume_unique=True)):
            raise ValueError(
                f"`y` has classes not in `self.classes_`. `self.classes_` has "
                f"{known}. 'y' has {classes}."
            )

    def _multiclass(self):
        return self._label_binarizer.y_type_ == "multiclass"

    def _default_out_activation(self, loss):
        return "softmax" if self._multiclass() else "logistic"

    def _check_output(self, loss, out):
        _check_probability_output(out)
        if loss_optional(loss, "outputs_per_target") != 1:  # a regression head
            raise ValueError(
                f"loss={self.loss!r} needs {loss_optional(loss, 'outputs_per_target')} network "
                "outputs per target (a mean–variance or quantile head); a classifier's outputs "
                "are its class probabilities. Use it with FNNRegressor.")
        if self._multiclass() and isinstance(get_loss(self.loss), BinaryLogLoss):
            # One Bernoulli variable per unit: a softmax output would not be one, and
            # one-vs-rest is log_loss with logistic outputs, asked for by name.
            raise ValueError(
                f"loss={self.loss!r} treats each output unit as its own yes/no variable "
                "(binary or multilabel targets); this is a multiclass target with "
                f"{len(self._label_binarizer.classes_)} classes. Use loss='log_loss' "
                "(softmax over the classes), or loss='log_loss' with "
                "out_activation='logistic' for one-vs-rest."
            )
        if not activation_optional(out, "elementwise") and not self._multiclass():
            raise ValueError(
                f"out_activation={self.out_activation!r} couples the output units (it is "
                "not elementwise), which needs a multiclass target; this target is "
                f"{self._label_binarizer.y_type_}. Use 'logistic' (or 'auto')."
            )

    def _one_vs_rest(self):
        """A multiclass target with an elementwise output: one unit per class, normalised."""
        return self._multiclass() and activation_optional(self._net.output, "elementwise")

    def _stratify_split(self):
        return self.n_outputs_ == 1

    def _decode_target(self, Y):
        return self._label_binarizer.inverse_transform(to_numpy(Y))

    def _decode(self, output):
        """The labels of the network's outputs, decoded on the host."""
        output = to_numpy(output)
        if self.n_outputs_ == 1:
            output = output.ravel()
        return self._label_binarizer.inverse_transform(output)

    def _score_outputs(self, output, y, sample_weight):
        return accuracy_score(y, self._decode(output), sample_weight=sample_weight)

    # ------------------------------------------------------------------
    # Public API
    # ------------------------------------------------------------------
    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes (a 0/1 indicator matrix for multilabel), in
            X's namespace and on its device (string labels: numpy).
        """
        output = self._probabilities(X, "predict")
        labels = self._decode(output)
        return labels if labels.dtype.kind in "OSU" else on_device(labels, output)

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            For binary targets the columns are P(classes_[0]), P(classes_[1]).
            A multiclass target with an elementwise output activation
            (one-vs-rest, e.g. ``out_activation="logistic"``) has its unit
            outputs normalised to sum to 1 per row.
        """
        output = self._probabilities(X, "predict_proba")
        if self.n_outputs_ == 1:
            return concat([1 - output, output], axis=1)
        if self._one_vs_rest():
            xp = array_namespace(output)
            if type(self._net.output) is Logistic:  # as predict_log_proba, in log space
                return xp.exp(self._ovr_log_proba(self._forward_logits(X, "predict_proba")))
            total = xp.sum(output, axis=1, keepdims=True)
            # An all-zero row is uniform: 1/k for each class.
            return xp.where(total > 0, output / xp.where(total > 0, total, 1.0),
                            1 / output.shape[1])
        return output

    def _probabilities(self, X, method):
        """A^L for X, checked to lie in [0, 1] where a user's output activation computed it.

        Its declared ``output_range`` was trusted at fit (and checked on the
        first step's outputs only): one min and max here make sure that no
        value outside [0, 1] is passed off as a probability. The built-ins are
        trusted.
        """
        output = self._forward_output(X, method)
        out = self._net.output
        if type(out) in ACTIVATIONS.values():
            return output
        xp = array_namespace(output)
        low, high = float(xp.min(output)), float(xp.max(output))
        if low < 0 or high > 1:
            raise ValueError(
                f"The output activation {out!r} returned values in [{low:.6g}, {high:.6g}] "
                f"at {method}, which are not probabilities, although it declares "
                f"output_range={activation_optional(out, 'output_range')}: a classifier's "
                "output activation must map into [0, 1]. Correct its forward (and refit)."
            )
        return output

    def predict_log_proba(self, X):
        """Log of the probability estimates, computed from the logits.

        Unlike ``np.log(predict_proba(X))``, this stays finite where a
        probability underflows to 0 (log-softmax and log-sigmoid of Z^L) for
        the softmax and logistic outputs; ``exp`` of it is ``predict_proba``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        Z = self._forward_logits(X, "predict_log_proba")
        xp = array_namespace(Z)
        out = type(self._net.output)  # exactly: a subclass may compute another function
        if out is Softmax:
            return log_softmax(Z, axis=1)
        if out is Logistic and self._one_vs_rest():
            return self._ovr_log_proba(Z)
        if out is not Logistic:
            proba = self.predict_proba(X)
            tiny = _array_api.scalar(xp.finfo(Z.dtype).smallest_normal, proba)
            return xp.log(xp.maximum(proba, tiny))
        log_p, log_q = _array_api.log_expit(Z), _array_api.log_expit(-Z)
        if self.n_outputs_ == 1:
            return concat([log_q, log_p], axis=1)
        return log_p

    @staticmethod
    def _ovr_log_proba(Z):
        """log(p_k / Σ_j p_j) with p = logistic(Z), computed as log p − logsumexp(log p).

        scipy's logsumexp takes the arrays of every namespace (under
        ``array_api_dispatch``, SCIPY_ARRAY_API=1 is set).
        """
        log_p = _array_api.log_expit(Z)
        return log_p - logsumexp(log_p, axis=1, keepdims=True)

    @available_if(lambda est: est._check_solver())
    @transactional
    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over (X, y).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None
            All the classes that can appear in y; required on the first call,
            ignored afterwards. For a multilabel y (an indicator matrix) it is
            ``np.arange(n_labels)``.

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _home(y):
    """``(namespace, device)`` of y if it is an array of another library under dispatch, else
    None."""
    if y is None or not _array_api.is_array(y) or isinstance(y, np.ndarray):
        return None
    xp, is_array_api, device = get_namespace_and_device(y)
    return (xp, device) if is_array_api else None


def _host(y):
    """y as numpy when it is an array of another library (labels are encoded on the host)."""
    return to_numpy(y) if _home(y) is not None else y


def _labels_to(classes, home):
    """The classes in y's namespace and on its device, when that is not numpy's and they
    are numbers."""
    if home is None or classes.dtype.kind in "OSU":
        return classes
    return move_to(classes, xp=home[0], device=home[1])


def _check_probability_output(out):
    """Raise ValueError unless the output activation's values lie in [0, 1]."""
    value_range = activation_optional(out, "output_range")
    if value_range is None:
        raise ValueError(
            f"out_activation={out!r} declares no output_range, so its outputs cannot be "
            "trusted as probabilities. A classifier's output activation must map into "
            "[0, 1]: if yours does, declare it with a class attribute "
            "output_range = (0.0, 1.0) (see docs/extending.md)."
        )
    low, high = value_range
    if low < 0 or high > 1:
        name = getattr(out, "name", None) or repr(out)
        raise ValueError(
            f"out_activation={name!r} returns values in [{low:g}, {high:g}], which are not "
            "probabilities. A classifier needs an output activation with values in "
            "[0, 1]: 'logistic' (or 'softmax' for a multiclass target)."
        )


def _label_weigher(class_weight, Y):
    """Per-label class weights learnt on the training Y, multiplied over the labels.

    As ``compute_sample_weight(class_weight, Y)``, operation for operation, so
    that the same Y gets bit-identical weights; validation targets are then
    weighted with the training set's per-label tables.
    """
    if isinstance(class_weight, dict):
        raise ValueError("For a multilabel target, class_weight must be 'balanced' or a list "
                         "with one dict {0: weight, 1: weight} per label.")
    if not isinstance(class_weight, str) and len(class_weight) != Y.shape[1]:
        raise ValueError(f"class_weight has {len(class_weight)} dicts but the target has "
                         f"{Y.shape[1]} labels; give one dict per label.")
    Y = Y.astype(np.int64)
    tables = []
    for k in range(Y.shape[1]):
        spec = class_weight if isinstance(class_weight, str) else class_weight[k]
        classes = np.unique(Y[:, k])
        tables.append((classes, compute_class_weight(spec, classes=classes, y=Y[:, k])))

    def weigh(labels, Y):
        Y = np.asarray(Y).astype(np.int64)
        return np.prod([weights[np.searchsorted(classes, Y[:, k])]
                        for k, (classes, weights) in enumerate(tables)], axis=0,
                       dtype=np.float64)
    return weigh
