"""
# Deploying: safe persistence with skops, and ONNX

Two ways to ship a trained model without pickle's risk of running arbitrary code on
load: `skfnn.io` writes skops' format (a zip of JSON and arrays; loading builds only
trusted types), and `skfnn.onnx` exports an ONNX graph that onnxruntime (or any ONNX
runtime) evaluates without Python's scikit-learn at all. Both need extras:
`pip install "skfnn[io,onnx]"`.
"""

import io
import warnings

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skfnn.onnx
from skfnn import FNNRegressor
from skfnn import io as skfnn_io

# The short fits below stop at max_iter on purpose; their warnings would only add noise.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_diabetes(return_X_y=True)
model = make_pipeline(StandardScaler(), FNNRegressor((16, 8), activation="gelu",
                                                     solver="lbfgs", max_iter=100,
                                                     random_state=0)).fit(X, y / 100)

# %%
# skops: dump, load, and the same predictions, bit for bit.

buffer = io.BytesIO()
skfnn_io.dump(model, buffer)
loaded = skfnn_io.loads(buffer.getvalue())
print(f"{len(buffer.getvalue())} bytes; identical predictions: "
      f"{np.array_equal(loaded.predict(X), model.predict(X))}")

# %%
# ONNX: the whole pipeline, scaler included, as one float32 graph.

X32 = X.astype(np.float32)
onx = skfnn.onnx.to_onnx(model, X32[:1])
session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
(onnx_prediction,) = session.run(None, {"X": X32})
onnx_prediction = onnx_prediction.ravel()
expected = model.predict(X32)
print(f"largest difference, onnxruntime vs skfnn: {np.abs(onnx_prediction - expected).max():.1e}"
      f" (predictions up to {np.abs(expected).max():.2f})")

# %%
# onnxruntime's float32 predictions against skfnn's.

fig, ax = plt.subplots(figsize=(4.5, 4))
ax.plot(expected, onnx_prediction, ".", ms=4)
lims = [expected.min(), expected.max()]
ax.plot(lims, lims, "k:", lw=1)
ax.set(xlabel="skfnn predict", ylabel="onnxruntime", title="The exported graph agrees")
fig.tight_layout()
