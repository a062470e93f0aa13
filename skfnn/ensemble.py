"""Deep ensembles: K networks of one architecture, each trained from its own seed.

A deep ensemble (Lakshminarayanan et al., 2017) trains the same network K
times on the same data from K random initialisations (and K shuffling orders)
and averages the predictions. The average is usually better than any one
member, and the members' disagreement measures what the data leave undecided
(epistemic uncertainty): it grows away from the training data.

:class:`FNNEnsembleRegressor` and :class:`FNNEnsembleClassifier` draw the
members' seeds as scikit-learn's ``BaggingRegressor`` does and train the K
networks, which differ only in ``random_state``, together on skfnn's model
axis (``skfnn._stack``); each member is, bit for bit, the network its own
``fit`` would give. The fitted members are ordinary
:class:`~skfnn.FNNRegressor` / :class:`~skfnn.FNNClassifier` objects, in
``estimators_``.
"""

import copy
import math
from numbers import Integral

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.validation import check_is_fitted

from . import _stack
from ._array_api import array_namespace, astype, follow, is_array, on_device, to_numpy
from ._classifier import FNNClassifier
from ._regressor import FNNRegressor
from ._sklearn_compat import (
    Interval,
    InvalidParameterError,
    _fit_context,
    check_same_namespace,
)
from .losses import optional as loss_optional

__all__ = ["FNNEnsembleClassifier", "FNNEnsembleRegressor"]


class _BaseFNNEnsemble(BaseEstimator):
    """What the two ensembles share: parameters, fit, the members' outputs, persistence."""

    #: The class of the members (and of the default ``estimator``).
    _member_type = None
    #: Fitted attributes the ensemble takes from its first member, where it has them.
    _copied_from_members = ("feature_names_in_",)

    _parameter_constraints: dict = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, n_estimators=5, *, random_state=None):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.random_state = random_state

    def _template(self):
        """The estimator the members are clones of (``estimator``, or the default)."""
        return self._member_type() if self.estimator is None else self.estimator

    @_fit_context(prefer_skip_nested_validation=False)  # the members validate their own
    def fit(self, X, y, sample_weight=None):
        """Fit ``n_estimators`` networks to (X, y), each from its own seed.

        Member k is ``clone(estimator).set_params(random_state=int(member_seeds_[k]))``
        fitted to (X, y, sample_weight): the same network, bit for bit, as that
        clone's own ``fit``. If the fit raises, the ensemble is left as it was.

        With ``estimator.warm_start=True``, a fitted ensemble's members go on
        from their weights, as a warm-started network does: member k is then a
        copy of ``estimators_[k]`` (same seed) given ``estimator``'s other
        parameters and fitted again; ``n_estimators`` must not have changed.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights, passed to each member's ``fit``.

        Returns
        -------
        self : object
            The fitted ensemble.
        """
        if isinstance(self.n_estimators, bool):  # an Integral, which randint refuses
            raise InvalidParameterError(f"The 'n_estimators' parameter of {type(self).__name__}"
                                        f" must be an int in the range [1, inf). Got "
                                        f"{self.n_estimators!r} instead.")
        members, seeds = self._members()
        members = _stack.fit_members(members, X, y, sample_weight)
        # Nothing is set before every member is fitted: a failed fit leaves no trace.
        # Under array_api_dispatch the seeds follow X, as every fitted array does.
        self._set_fitted(list(members), follow(X, seeds))
        return self

    def _members(self):
        """The members to fit and their seeds: fresh clones of the template, or
        copies of the fitted members where they are warm-started (see ``fit``)."""
        template = self._template()
        if template.warm_start and hasattr(self, "estimators_") and all(
                type(member) is type(template) for member in self.estimators_):
            if len(self.estimators_) != self.n_estimators:
                raise ValueError(
                    f"n_estimators={self.n_estimators} but this ensemble has "
                    f"{len(self.estimators_)} members to go on from (the estimator's "
                    "warm_start=True); set estimator__warm_start=False to fit a new ensemble.")
            params = clone(template).get_params(deep=False)
            del params["random_state"]  # each member keeps its own
            members = [copy.deepcopy(member).set_params(**params)
                       for member in self.estimators_]
            return members, to_numpy(self.member_seeds_)
        # BaggingRegressor's draw: one int32 seed per member, from random_state.
        seeds = check_random_state(self.random_state).randint(np.iinfo(np.int32).max,
                                                               size=self.n_estimators)
        return [clone(template).set_params(random_state=int(seed)) for seed in seeds], seeds

    def _set_fitted(self, members, seeds):
        first = members[0]
        fitted = {"estimators_": members, "member_seeds_": seeds,
                  "n_features_in_": first.n_features_in_}
        for name in self._copied_from_members:
            if hasattr(first, name):
                fitted[name] = getattr(first, name)
        self.__dict__.pop("feature_names_in_", None)  # from an earlier fit on a DataFrame
        self.__dict__.update(fitted)

    def _check_fitted(self, X, method):
        """Raise unless fitted, and fitted in X's namespace and on its device."""
        check_is_fitted(self)
        check_same_namespace(X, self, attribute="member_seeds_", method=method)

    def _stacked(self, method, X, **kwargs):
        """The members' ``method(X)`` outputs stacked on a new first axis (K, ...)."""
        self._check_fitted(X, method)
        outputs = [getattr(member, method)(X, **kwargs) for member in self.estimators_]
        xp = array_namespace(outputs[0])
        return xp, xp.stack(outputs, axis=0)

    # ------------------------------------------------------------------
    # scikit-learn's protocols
    # ------------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        template = self._template()
        member = get_tags(template if isinstance(template, self._member_type)
                          else self._member_type())
        tags.input_tags.sparse = member.input_tags.sparse
        tags.array_api_support = member.array_api_support
        tags.target_tags.multi_output = member.target_tags.multi_output
        return tags

    def __sklearn_array_api_convert__(self, converter):
        """A copy with the members' arrays converted (``move_estimator_to``).

        The members convert themselves, and ``classes_`` is the converted first
        member's (string labels stay numpy arrays).
        """
        new = clone(self)
        state = dict(self.__dict__)
        if "estimators_" in state:
            members = [m.__sklearn_array_api_convert__(converter) for m in self.estimators_]
            state["estimators_"] = members
            state["member_seeds_"] = converter(self.member_seeds_)
            if "classes_" in state:
                state["classes_"] = members[0].classes_
        new.__dict__.update(state)
        return new

    def __setstate__(self, state):
        _check_state(self, state)
        super().__setstate__(state)


# ----------------------------------------------------------------------
# The regressor
# ----------------------------------------------------------------------
class FNNEnsembleRegressor(RegressorMixin, _BaseFNNEnsemble):
    """A deep ensemble of :class:`~skfnn.FNNRegressor` networks.

    ``n_estimators`` clones of ``estimator``, each with its own
    ``random_state`` (drawn from this ensemble's ``random_state``), trained on
    the same data; the prediction is the members' mean, and
    ``predict(X, return_std=True)`` adds the predictive standard deviation:
    the members' spread (epistemic uncertainty), plus their own predicted
    variance (aleatoric uncertainty) for members with a Gaussian head
    (``loss="gaussian_nll"``).

    Parameters
    ----------
    estimator : FNNRegressor, default=None
        The network each member clones (an :class:`~skfnn.FNNRegressor` or a
        subclass of it; its ``random_state`` is replaced by the member's
        seed). None means ``FNNRegressor()``.
    n_estimators : int, default=5
        The number K of members, at least 1.
    random_state : int, RandomState instance or None, default=None
        Draws the members' seeds (``member_seeds_``), as scikit-learn's
        ``BaggingRegressor`` draws its estimators' seeds. An int gives the
        same ensemble on every fit.

    Attributes
    ----------
    estimators_ : list of FNNRegressor
        The fitted members, ordinary :class:`~skfnn.FNNRegressor` objects.
    member_seeds_ : ndarray of shape (n_estimators,)
        The members' ``random_state``: member k is
        ``clone(estimator).set_params(random_state=int(member_seeds_[k]))``
        fitted to the same data. Under ``array_api_dispatch``, an integer
        array of X's namespace and device, as every fitted array.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    FNNEnsembleClassifier : The ensemble of classifiers.
    sklearn.ensemble.BaggingRegressor : Members trained on bootstrap samples.

    Notes
    -----
    With μ_k and σ_k the mean and standard deviation member k predicts, the
    ensemble predicts the mean μ = mean_k μ_k and the standard deviation
    sqrt(mean_k σ_k² + var_k μ_k) of the equally weighted mixture of the
    members' Gaussians; for members that predict a point only, the spread
    std_k μ_k. Variances are over the K members, without Bessel's correction
    (ddof=0).

    References
    ----------
    B. Lakshminarayanan, A. Pritzel and C. Blundell, "Simple and Scalable
    Predictive Uncertainty Estimation using Deep Ensembles", NeurIPS 2017.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skfnn import FNNRegressor
    >>> from skfnn.ensemble import FNNEnsembleRegressor
    >>> X, y = make_regression(n_samples=100, n_features=3, noise=1, random_state=0)
    >>> ensemble = FNNEnsembleRegressor(
    ...     FNNRegressor((10,), solver="lbfgs", max_iter=200), n_estimators=3,
    ...     random_state=0).fit(X, y / y.std())
    >>> mean, std = ensemble.predict(X[:2], return_std=True)
    >>> mean.shape, std.shape
    ((2,), (2,))
    >>> bool((std > 0).all())
    True
    """

    _member_type = FNNRegressor
    _parameter_constraints: dict = {
        **_BaseFNNEnsemble._parameter_constraints,
        "estimator": [FNNRegressor, None],
    }

    def predict(self, X, return_std=False):
        """The mean of the members' predictions (and the predictive standard deviation).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return the standard deviation: sqrt(mean_k σ_k² + var_k μ_k)
            for members with a Gaussian head (``loss="gaussian_nll"``), the
            members' spread std_k μ_k for members that predict a point. For
            ``loss="quantile"`` members it raises ValueError: their outputs
            are quantiles, whose spread is no standard deviation of y.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
            The mean of the members' predictions, in X's namespace and on its
            device.
        std : ndarray of shape (n_samples,) or (n_samples, n_targets)
            The predictive standard deviation (with ``return_std=True``).
        """
        if not return_std:
            xp, means = self._stacked("predict", X)
            return xp.mean(means, axis=0)
        self._check_fitted(X, "predict")
        loss = self.estimators_[0]._net.loss
        if loss_optional(loss, "predict_std") is None:
            if loss_optional(loss, "point_prediction") is not None:
                raise ValueError(
                    f"return_std=True is not defined for members fitted with "
                    f"loss={self.estimators_[0].loss!r}: their outputs are quantiles (or other "
                    "statistics), not a mean whose spread or variance would make a standard "
                    "deviation; compare the members' own predictions (estimators_) instead.")
            xp, means = self._stacked("predict", X)
            mean = xp.mean(means, axis=0)
            return mean, xp.sqrt(_spread(xp, means, mean))
        # Gaussian members: each predicts (μ_k, σ_k).
        pairs = [member.predict(X, return_std=True) for member in self.estimators_]
        xp = array_namespace(pairs[0][0])
        means = xp.stack([mu for mu, _ in pairs], axis=0)
        stds = xp.stack([sigma for _, sigma in pairs], axis=0)
        mean = xp.mean(means, axis=0)
        return mean, xp.sqrt(xp.mean(stds * stds, axis=0) + _spread(xp, means, mean))

    def score(self, X, y, sample_weight=None):
        """R² of the mean of the members' point predictions.

        The point prediction is a member's ``score``'s: the mean (also for
        ``loss="gaussian_nll"``), or for ``loss="quantile"`` the quantile
        nearest 0.5. For any other loss, the R² of ``predict(X)``, as
        scikit-learn's regressors score.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        self._check_fitted(X, "score")
        point = loss_optional(self.estimators_[0]._net.loss, "point_prediction")
        if point is None:
            return super().score(X, y, sample_weight)
        points = [member._point(member._forward_output(X, "score"))
                  for member in self.estimators_]
        xp = array_namespace(points[0])
        return r2_score(y, xp.mean(xp.stack(points, axis=0), axis=0),
                        sample_weight=sample_weight)


def _spread(xp, stacked, mean):
    """var_k over the first axis (ddof=0), given its mean: as ``np.var`` computes it."""
    deviation = stacked - mean
    return xp.mean(deviation * deviation, axis=0)


# ----------------------------------------------------------------------
# The classifier
# ----------------------------------------------------------------------
class FNNEnsembleClassifier(ClassifierMixin, _BaseFNNEnsemble):
    """A deep ensemble of :class:`~skfnn.FNNClassifier` networks.

    ``n_estimators`` clones of ``estimator``, each with its own
    ``random_state`` (drawn from this ensemble's ``random_state``), trained on
    the same data; the ensemble's probabilities are the mean of the members'
    (soft voting), and its class the most probable one.

    Parameters
    ----------
    estimator : FNNClassifier, default=None
        The network each member clones (an :class:`~skfnn.FNNClassifier` or
        a subclass of it; its ``random_state`` is replaced by the member's
        seed). None means ``FNNClassifier()``.
    n_estimators : int, default=5
        The number K of members, at least 1.
    random_state : int, RandomState instance or None, default=None
        Draws the members' seeds (``member_seeds_``), as scikit-learn's
        ``BaggingClassifier`` draws its estimators' seeds. An int gives the
        same ensemble on every fit.

    Attributes
    ----------
    estimators_ : list of FNNClassifier
        The fitted members, ordinary :class:`~skfnn.FNNClassifier` objects.
    member_seeds_ : ndarray of shape (n_estimators,)
        The members' ``random_state``: member k is
        ``clone(estimator).set_params(random_state=int(member_seeds_[k]))``
        fitted to the same data. Under ``array_api_dispatch``, an integer
        array of X's namespace and device, as every fitted array.
    classes_ : ndarray of shape (n_classes,)
        The class labels, the members' (for multilabel targets, one 0/1
        label per output).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    FNNEnsembleRegressor : The ensemble of regressors.
    sklearn.ensemble.VotingClassifier : Soft voting among different estimators.

    Notes
    -----
    ``predict_proba`` is mean_k p_k, ``predict`` its most probable class
    (for multilabel targets: each label whose mean probability exceeds 0.5),
    and ``predict_log_proba`` log(mean_k p_k), computed from the members'
    log-probabilities (a log-sum-exp), so that it stays finite where a
    probability underflows.

    References
    ----------
    B. Lakshminarayanan, A. Pritzel and C. Blundell, "Simple and Scalable
    Predictive Uncertainty Estimation using Deep Ensembles", NeurIPS 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skfnn import FNNClassifier
    >>> from skfnn.ensemble import FNNEnsembleClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> ensemble = FNNEnsembleClassifier(
    ...     FNNClassifier((8,), solver="lbfgs", max_iter=300), n_estimators=3,
    ...     random_state=0).fit(X, y)
    >>> ensemble.predict_proba(X[:1]).shape
    (1, 3)
    >>> ensemble.score(X, y) > 0.9
    True
    """

    _member_type = FNNClassifier
    _parameter_constraints: dict = {
        **_BaseFNNEnsemble._parameter_constraints,
        "estimator": [FNNClassifier, None],
    }
    _copied_from_members = ("classes_", "feature_names_in_")

    def predict_proba(self, X):
        """The mean of the members' class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            mean_k p_k, in X's namespace and on its device; the columns follow
            ``classes_``.
        """
        xp, probas = self._stacked("predict_proba", X)
        return xp.mean(probas, axis=0)

    def predict_log_proba(self, X):
        """log of ``predict_proba``, from the members' log-probabilities.

        log(mean_k p_k) = logsumexp_k(log p_k) − log K, which stays finite
        where every member's probability underflows to 0.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        _, log_probas = self._stacked("predict_log_proba", X)
        return logsumexp(log_probas, axis=0) - math.log(len(self.estimators_))

    def predict(self, X):
        """The most probable class under the mean probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            ``classes_[argmax(predict_proba(X))]`` (for multilabel targets, a
            0/1 indicator matrix: each label with mean probability above 0.5),
            in X's namespace and on its device (string labels: numpy).
        """
        self._check_fitted(X, "predict")
        proba = self.predict_proba(X)
        xp = array_namespace(proba)
        if self.estimators_[0]._label_binarizer.y_type_ == "multilabel-indicator":
            return astype(proba > 0.5, xp.int64)
        labels = to_numpy(self.classes_)[to_numpy(xp.argmax(proba, axis=1))]
        return labels if labels.dtype.kind in "OSU" else on_device(labels, proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


# ----------------------------------------------------------------------
# Loading: a pickled or saved ensemble must be one
# ----------------------------------------------------------------------
_FITTED = ("estimators_", "member_seeds_", "n_features_in_")


def _check_state(ensemble, state):
    """Raise ValueError unless ``state`` is an ensemble whose members agree with it.

    The members loaded themselves (and checked their own state); here: the
    fitted attributes are all there or none is, ``estimators_`` holds
    ``n_estimators`` fitted members of the right class, each seeded by its
    entry of ``member_seeds_``, and the ensemble's features and classes are
    theirs.
    """
    name = type(ensemble).__name__
    if not isinstance(state, dict):
        raise ValueError(f"Cannot load this {name}: its state is a "  # noqa: TRY004
                         f"{type(state).__name__}, not a dict.")
    fitted = _FITTED + (("classes_",) if isinstance(ensemble, ClassifierMixin) else ())
    present = [key for key in fitted if key in state]
    try:
        template, kind = state.get("estimator"), ensemble._member_type.__name__
        if not (template is None or isinstance(template, ensemble._member_type)):
            raise ValueError(f"estimator must be an {kind} or None, got "
                             f"{type(template).__name__}")
        if not present:
            return
        if len(present) < len(fitted):
            raise ValueError(f"the fitted state lacks {sorted(set(fitted) - set(present))}")
        _check_members(ensemble, state)
        _check_copied(state)
    except ValueError as exc:
        raise ValueError(f"Cannot load this {name}: {exc} (the file or pickle was edited "
                         "or corrupted).") from None


def _check_members(ensemble, state):
    members, seeds, n = state["estimators_"], state["member_seeds_"], state.get("n_estimators")
    kind = ensemble._member_type.__name__
    if not isinstance(members, list) or not members or len(members) != n:
        raise ValueError(f"estimators_ must be a list of n_estimators={n!r} fitted {kind} "
                         f"objects, got {type(members).__name__} of length "
                         f"{len(members) if hasattr(members, '__len__') else '?'}")
    host = to_numpy(seeds) if is_array(seeds) else None
    if host is None or host.dtype.kind not in "iu" or host.shape != (n,):
        raise ValueError(f"member_seeds_ must be an integer array of shape ({n},), got "
                         f"{seeds!r}")
    for k, (member, seed) in enumerate(zip(members, host, strict=True)):
        if not isinstance(member, ensemble._member_type):
            raise ValueError(f"estimators_[{k}] is a {type(member).__name__}, not a {kind}")
        try:
            check_is_fitted(member)
        except NotFittedError:
            raise ValueError(f"estimators_[{k}] is not fitted") from None
        if member.random_state != int(seed):
            raise ValueError(f"estimators_[{k}] has random_state={member.random_state!r} "
                             f"but member_seeds_[{k}] is {int(seed)}")
        different = _different_params(members[0], member)
        if different:
            raise ValueError(f"estimators_[{k}]'s {different[0]} differs from estimators_[0]'s "
                             "(the members are clones of one estimator)")


def _different_params(a, b):
    """The parameters, random_state aside, in which two members differ."""
    pa, pb = a.get_params(deep=False), b.get_params(deep=False)
    return [name for name in pa if name != "random_state" and not (
        type(pa[name]) is type(pb.get(name)) and _stack._equal(pa[name], pb.get(name)))]


def _check_copied(state):
    """n_features_in_, feature_names_in_ and classes_ are every member's."""
    for k, member in enumerate(state["estimators_"]):
        for key in ("n_features_in_", "feature_names_in_", "classes_"):
            ours, theirs = state.get(key), getattr(member, key, None)
            if not _same(ours, theirs):
                raise ValueError(f"{key} is {ours!r} but estimators_[{k}]'s is {theirs!r}")


def _same(a, b):
    """Equal values (arrays of any namespace compared on the host), or both None."""
    if a is None or b is None:
        return a is None and b is None
    return np.array_equal(*(to_numpy(v) if is_array(v) else np.asarray(v) for v in (a, b)))
