"""The one place that imports scikit-learn's private helpers.

scikit-learn moves and renames its private utilities between releases; every
other skfnn module imports them from here, so that a change in scikit-learn is
mended in one file.

The callback API (``sklearn.callback``) exists from scikit-learn 1.9. With an
older scikit-learn, :class:`CallbackSupportMixin` is a stand-in whose
``set_callbacks`` raises an error saying what is needed, and
:func:`with_callbacks` leaves the method as it is.
"""

import sklearn
from sklearn.base import _fit_context
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions
from sklearn.utils._plotting import _validate_style_kwargs
from sklearn.utils.multiclass import _check_partial_fit_first_call
from sklearn.utils.validation import _check_sample_weight, _num_samples, validate_data

__all__ = [
    "HAS_CALLBACKS",
    "CallbackSupportMixin",
    "HasMethods",
    "Interval",
    "Options",
    "StrOptions",
    "check_matplotlib_support",
    "_check_partial_fit_first_call",
    "_check_sample_weight",
    "_fit_context",
    "_num_samples",
    "_validate_style_kwargs",
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
