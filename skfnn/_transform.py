"""A fitted network as a feature extractor: ``transform`` gives its hidden features.

``transform(X)`` returns A^{L-1}, the activations of the last hidden layer (the
features the output layer reads), with scikit-learn's transformer API:
``get_feature_names_out`` ("fnnclassifier0", ...) and ``set_output``, so that
``make_pipeline(FNNClassifier(...), LogisticRegression())`` fits the network,
then the linear model on its features. The estimator stays a full predictor.

Always the last hidden layer, without a parameter to choose another: a
parameter would be a hyperparameter that changes nothing about the fit (a grid
search would refit the same network for each value) and would make
``get_feature_names_out`` depend on it. Every hidden layer's activations are
one call away with :meth:`HiddenFeaturesMixin.hidden_activations`.
"""

from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin

from . import _engine, _model
from ._threads import blas_threads_for

__all__ = ["HiddenFeaturesMixin"]


class HiddenFeaturesMixin(ClassNamePrefixFeaturesOutMixin, TransformerMixin):
    """``transform``, ``hidden_activations``, ``get_feature_names_out`` and ``set_output``."""

    @property
    def _n_features_out(self):
        """The units of the last hidden layer (what ``get_feature_names_out`` names)."""
        return self._net.layer_units[-2]

    def hidden_activations(self, X):
        """The activations A^1, ..., A^{L-1} of every hidden layer for X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        activations : list of ndarray
            ``activations[l - 1]`` is A^l = σ_l(A^{l-1} W^l + b^l), of shape
            (n_samples, hidden_layer_sizes[l - 1]) (no dropout: as at prediction).
        """
        return self._hidden(X, "hidden_activations")

    def _hidden(self, X, method):
        X, Ws, bs = _model.promoted(self, self._check_X(X, method))
        with blas_threads_for(X.shape[0], self._net.layer_units):
            _, As, _ = _engine.forward(self._net, X, Ws, bs)  # A^l = σ_l(A^{l-1} W^l + b^l)
        return [_model.finite(A) for A in As[1:-1]]

    def transform(self, X):
        """The activations of the last hidden layer, A^{L-1}: the network's features.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray of shape (n_samples, hidden_layer_sizes[-1])
        """
        activations = self._hidden(X, "transform")
        if not activations:
            raise ValueError(f"{type(self).__name__} has no hidden layer "
                             "(hidden_layer_sizes=()), so it has no hidden features to "
                             "transform X into.")
        return activations[-1]
