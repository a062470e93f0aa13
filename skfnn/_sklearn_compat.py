"""The one place that imports scikit-learn's private helpers.

scikit-learn moves and renames its private utilities between releases; every
other skfnn module imports them from here, so that a change in scikit-learn is
mended in one file.

The callback API (``sklearn.callback``) exists from scikit-learn 1.9. With an
older scikit-learn, :class:`CallbackSupportMixin` is a stand-in whose
``set_callbacks`` raises an error saying what is needed, and
:func:`with_callbacks` leaves the method as it is.

So do the array API helpers with which skfnn trains on the arrays of other
libraries (``move_to``, ``check_same_namespace``; :data:`HAS_ARRAY_API`):
before 1.9, skfnn trains numpy arrays only, and says so.
"""

import sklearn
from sklearn.base import _fit_context
from sklearn.metrics._scorer import _MultimetricScorer
from sklearn.model_selection._validation import (
    _insert_error_scores,
    _score,
    _warn_or_raise_about_fit_failures,
)
from sklearn.utils._array_api import (
    _convert_to_numpy,
    get_namespace_and_device,
    supported_float_dtypes,
)
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils._plotting import _validate_style_kwargs
from sklearn.utils.metadata_routing import _routing_enabled
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.multiclass import _check_partial_fit_first_call
from sklearn.utils.validation import (
    _check_method_params,
    _check_sample_weight,
    _num_samples,
    validate_data,
)

__all__ = [
    "HAS_ARRAY_API",
    "HAS_CALLBACKS",
    "CallbackSupportMixin",
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "check_matplotlib_support",
    "check_same_namespace",
    "get_namespace_and_device",
    "move_to",
    "supported_float_dtypes",
    "_check_method_params",
    "_check_partial_fit_first_call",
    "_check_sample_weight",
    "_convert_to_numpy",
    "_fit_context",
    "_MultimetricScorer",
    "_insert_error_scores",
    "_num_samples",
    "_routing_enabled",
    "_safe_split",
    "_score",
    "_validate_style_kwargs",
    "_warn_or_raise_about_fit_failures",
    "validate_data",
    "with_callbacks",
]

try:
    from sklearn.callback import CallbackSupportMixin, with_callbacks

    HAS_CALLBACKS = True
except ImportError:  # scikit-learn < 1.9
    HAS_CALLBACKS = False

    class CallbackSupportMixin:
        """Stand-in for ``sklearn.callback.CallbackSupportMixin`` (scikit-learn < 1.9)."""

        def set_callbacks(self, *callbacks):
            """Unavailable: callbacks need scikit-learn >= 1.9."""
            raise RuntimeError(
                f"{type(self).__name__}.set_callbacks needs scikit-learn's callback API "
                f"(sklearn.callback), which scikit-learn 1.9 introduced; this is "
                f"scikit-learn {sklearn.__version__}. Upgrade with "
                f"`pip install 'scikit-learn>=1.9'`."
            )

    def with_callbacks(method):
        """Stand-in for ``sklearn.callback.with_callbacks``: the method unchanged."""
        return method


try:
    from sklearn.utils._array_api import check_same_namespace, move_to

    HAS_ARRAY_API = True
except ImportError:  # scikit-learn < 1.9: numpy only (skfnn._array_api.fit_namespace says so)
    HAS_ARRAY_API = False

    def check_same_namespace(X, estimator, *, attribute, method):
        """Stand-in: before scikit-learn 1.9 every fitted skfnn model is numpy."""

    def move_to(*arrays, xp, device):  # pragma: no cover - unreachable without 1.9
        raise RuntimeError("move_to needs scikit-learn >= 1.9")
