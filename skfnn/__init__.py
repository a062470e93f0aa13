"""skfnn: scikit-learn-native feed-forward neural networks on a numpy δ-backprop engine."""

from ._array_api import array_namespace
from ._classifier import FNNClassifier
from ._regressor import FNNRegressor
from ._version import __version__
from .activations import Activation
from .ensemble import FNNEnsembleClassifier, FNNEnsembleRegressor
from .gradcheck import GradientCheckError, check_activation, check_gradients, check_loss
from .losses import Loss
from .model_selection import StackedGridSearchCV
from .plotting import LearningRateFinderDisplay, TrainingCurveDisplay, lr_finder

__all__ = [
    "Activation",
    "FNNClassifier",
    "FNNEnsembleClassifier",
    "FNNEnsembleRegressor",
    "FNNRegressor",
    "GradientCheckError",
    "LearningRateFinderDisplay",
    "Loss",
    "StackedGridSearchCV",
    "TrainingCurveDisplay",
    "__version__",
    "array_namespace",
    "check_activation",
    "check_gradients",
    "check_loss",
    "lr_finder",
]
