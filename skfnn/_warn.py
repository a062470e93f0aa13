"""Warnings that point at the user's line, not at skfnn's internals.

A fixed ``stacklevel`` would be wrong as soon as a warning is raised at
another depth (``fit`` and ``partial_fit``, sgd and L-BFGS, a hook, a
decorator). :func:`warn_user` counts the frames instead: the warning is
attributed to the first caller outside skfnn, scikit-learn and joblib
(scikit-learn's decorators, such as ``_fit_context``, wrap skfnn's methods,
and its meta-estimators call them through joblib), as Python 3.12's
``skip_file_prefixes`` would.
"""

import os
import sys
import warnings

import joblib
import sklearn

# Prefixes of the frames' file names, in the form co_filename takes (module __file__):
# skfnn, and scikit-learn and joblib, which run its methods in meta-estimators.
_INTERNAL = tuple(os.path.dirname(path) + os.sep
                  for path in (__file__, sklearn.__file__, joblib.__file__))


def warn_user(message, category=UserWarning):
    """``warnings.warn(message, category)`` with the stacklevel of the user's call."""
    frame, level = sys._getframe(1), 2  # stacklevel=2 is warn's caller
    # In a worker process (no user frame above) the outermost frame is the best there is.
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
