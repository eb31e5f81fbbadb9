"""
=====================================================
Counting cells from many views, with an uncertainty
=====================================================

The paper's conclusion asks for a "qualitative or quantitative estimation of
the cells number".  :class:`~skcells.multiview.MultiViewRegressor` is the
multi-view classifier's twin for such continuous targets: a network is
trained on random crops of the frames to predict the video's white-blood-cell
(WBC) count, and at prediction time the counts predicted from ``m`` crops of
a frame are merged by their median.  The spread of the ``m`` predictions is a
per-frame uncertainty: :meth:`~skcells.multiview.MultiViewRegressor.predict_interval`
returns the interval that holds the middle 80 % of them.

This example compares one view with many (mean absolute error) and checks
how often the interval of the views holds the true count (its coverage).
"""

# %%
# Data
# ----
# 600 single frames of 48 x 48 pixels and the WBC count of their video (the
# dataset's ``wbc_count``; a fetcher option returning counts as the target is
# on its way).  A crop covers 10-20 % of the frame, so a view sees about a
# sixth of the cells and the network learns to scale the density it sees up
# to the whole frame's count.  The targets are divided by 100 for training.
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import train_test_split
from skorch import NeuralNetRegressor

from skcells.datasets import fetch_synthetic_blood_videos
from skcells.multiview import MultiViewRegressor

data = fetch_synthetic_blood_videos(n_videos=600, n_frames=1, size=48, random_state=0)
X = data.data[:, 0]  # (600, 3, 48, 48) uint8 frames
count = data.wbc_count.astype(float)
X_train, X_test, y_train, y_test = train_test_split(
    X, count, test_size=0.4, random_state=0
)
print(f"WBC count: mean {count.mean():.0f}, standard deviation {count.std():.0f}")

# %%
# Train on random views
# ---------------------
# A small network with one output; skorch's ``NeuralNetRegressor`` inside the
# multi-view regressor is trained on a fresh random crop of every frame at
# every epoch, exactly as the classifier is.


class SmallCounter(torch.nn.Module):
    """Two convolutions, global pooling and a linear output (count / 100)."""

    def __init__(self, width=8):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, width, 3, padding=1),
            torch.nn.BatchNorm2d(width),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(width, 2 * width, 3, padding=1),
            torch.nn.BatchNorm2d(2 * width),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
        )
        self.head = torch.nn.Linear(2 * width, 1)

    def forward(self, x):
        return self.head(self.features(x))


torch.manual_seed(0)
net = NeuralNetRegressor(
    SmallCounter,
    optimizer=torch.optim.Adam,
    lr=3e-3,
    max_epochs=40,
    batch_size=32,
    train_split=None,
    verbose=0,
)
reg = MultiViewRegressor(
    net, n_views=30, crop_scale=(0.1, 0.2), output_size=16, random_state=0
)
reg.fit(X_train, y_train / 100)

# %%
# One view against many
# ---------------------
# :meth:`~skcells.multiview.MultiViewRegressor.predict_views` returns the
# count predicted from each of the 30 views.  The views are independent
# draws, so the median of the first ``m`` is an ``m``-view prediction; the
# single-view baseline is one view (every column is one, the grey dots).
views = 100 * reg.predict_views(X_test)  # (n_test, 30) counts
single = [mean_absolute_error(y_test, views[:, j]) for j in range(30)]
counts = [1, 2, 3, 5, 10, 20, 30]
mae = [mean_absolute_error(y_test, np.median(views[:, :m], axis=1)) for m in counts]

fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
ax.plot(np.ones(30), single, "o", color="gray", alpha=0.5, label="one view")
ax.plot(counts, mae, "o-", label="median of m views")
ax.axhline(
    mean_absolute_error(y_test, np.full_like(y_test, y_train.mean())),
    ls=":",
    color="k",
    label="the mean count",
)
ax.set_xscale("log")
ax.set_xticks(counts, [str(m) for m in counts])
ax.set_xlabel("number of views m")
ax.set_ylabel("mean absolute error (cells)")
ax.legend()
plt.show()
print(f"single view: MAE {np.mean(single):.1f} +- {np.std(single):.1f} cells")
print(f"30 views:    MAE {mae[-1]:.1f} cells")

# %%
# The spread of the views
# -----------------------
# The 80 % interval of the views' predictions shows how much the count
# depends on where a crop falls.  It is not a calibrated prediction
# interval: it ignores the error the network makes on every view alike, so
# its coverage of the true count is measured here rather than assumed.
lower, upper = reg.predict_interval(X_test, coverage=0.8)
lower, upper, prediction = 100 * lower, 100 * upper, 100 * reg.predict(X_test)
covered = (lower <= y_test) & (y_test <= upper)
print(
    f"80 % interval of the views: mean width {np.mean(upper - lower):.0f} cells, "
    f"holds the true count for {covered.mean():.0%} of the test frames"
)

order = np.argsort(y_test)
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
ax.errorbar(
    y_test[order],
    prediction[order],
    yerr=[prediction[order] - lower[order], upper[order] - prediction[order]],
    fmt="o",
    ms=3,
    alpha=0.6,
    ecolor="lightgray",
)
limits = [y_test.min(), y_test.max()]
ax.plot(limits, limits, "k--", lw=1)
ax.set_xlabel("true WBC count")
ax.set_ylabel("predicted (median of 30 views)")
plt.show()
