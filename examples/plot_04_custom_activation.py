"""
# A custom activation, verified

An activation is a function σ with its derivative σ'. Subclass `skfnn.Activation`,
write both, and check the derivative against central finite differences with
`check_activation` before training with it. Here: softsign,
σ(z) = z / (1 + |z|), whose derivative 1 / (1 + |z|)² is (1 − |a|)² in terms of
the activation a = σ(z).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_regression

from skfnn import Activation, FNNRegressor, GradientCheckError, check_activation


class Softsign(Activation):
    """σ(z) = z / (1 + |z|), σ'(z) = (1 − |a|)²."""

    name = "softsign"

    def forward(self, z):
        return z / (1 + np.abs(z))

    def derivative(self, z, a):
        return (1 - np.abs(a)) ** 2


result = check_activation(Softsign())
print(result)

# %%
# A wrong derivative (the square forgotten) is caught, with where and by how much.


class BadSoftsign(Softsign):
    def derivative(self, z, a):
        return 1 - np.abs(a)


try:
    check_activation(BadSoftsign())
except GradientCheckError as error:
    print(str(error).splitlines()[0])

# %%
# The derivative against the finite differences that `check_activation` compares
# it with.

z = np.linspace(-4, 4, 201)
eps = 1e-6
softsign = Softsign()
finite_difference = (softsign.forward(z + eps) - softsign.forward(z - eps)) / (2 * eps)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(z, softsign.forward(z), label="σ(z)")
ax.plot(z, softsign.derivative(z, softsign.forward(z)), lw=3, alpha=0.5, label="σ'(z)")
ax.plot(z[::10], finite_difference[::10], "k.", label="finite difference")
ax.plot(z, BadSoftsign().derivative(z, softsign.forward(z)), ":", label="wrong σ'")
ax.set(xlabel="z", title="Softsign and its derivative")
ax.legend()
fig.tight_layout()

# %%
# The object goes wherever an activation name does, here per hidden layer.

X, y = make_regression(n_samples=200, n_features=4, noise=1.0, random_state=0)
y = y / y.std()
reg = FNNRegressor((16, 8), activation=[Softsign(), "relu"], solver="lbfgs", max_iter=300,
                   random_state=0).fit(X, y)
print(f"R² on the training data: {reg.score(X, y):.3f}")
