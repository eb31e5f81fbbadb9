"""
============================================================
Multi-view vs single view: accuracy, uncertainty, abstention
============================================================

A small crop of a microscopy frame holds about the same information on the
cell concentration as the whole frame.  The paper's multi-view prediction
(Appendix B, Fig. 3, Eq. 3-5) lets a network see ``m`` random crops of each
input and aggregates the ``m`` predictions, either by their mode
(``aggregation="mode"``, the paper's MVM, Eq. 4) or by the bin count weighted
with the confidences (``aggregation="weighted"``, MVWCo-S, Eq. 5).  The
spread of the ``m`` votes doubles as an uncertainty estimate.

This example trains a small network on 10-20 % crops of synthetic frames
(high or low WBC count), compares one view with many, and uses the agreement
of the views to abstain on the least certain inputs.
"""

# %%
# Data and views
# --------------
# 500 single frames of 48 x 48 pixels, labelled 1 when the video's WBC count
# is above the mean.  :class:`~skcells.multiview.RandomResizedCropViews` cuts
# the crops: each covers a random 10-20 % of the frame area (the paper's
# setting) and is resized to 16 x 16 pixels.  The boxes below are the first
# six views of one frame.
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier

from skcells.datasets import fetch_synthetic_blood_videos
from skcells.multiview import (
    MultiViewClassifier,
    RandomResizedCropViews,
    aggregate_mode,
    aggregate_weighted,
)

data = fetch_synthetic_blood_videos(
    n_videos=500, n_frames=1, size=48, target="wbc", random_state=0
)
X = data.data[:, 0]  # (500, 3, 48, 48) uint8 frames
y = data.target
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.4, stratify=y, random_state=0
)

views = RandomResizedCropViews(
    n_views=6, crop_scale=(0.1, 0.2), output_size=16, random_state=0
)
crops = views.transform(X_test[:1])[0]  # (6, 3, 16, 16) floats in [0, 1]
boxes = views.sample_windows(X_test[:1]).boxes[0]

fig, axes = plt.subplots(1, 7, figsize=(13, 2.4), layout="constrained")
axes[0].imshow(X_test[0].transpose(1, 2, 0))
for k, (x1, y1, x2, y2) in enumerate(boxes):
    axes[0].add_patch(
        Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color=f"C{k}", lw=1.5)
    )
    axes[k + 1].imshow(crops[k].transpose(1, 2, 0))
    axes[k + 1].set_title(f"view {k + 1}", color=f"C{k}")
axes[0].set_title("frame")
for ax in axes:
    ax.set_axis_off()
plt.show()

# %%
# Train on random views
# ---------------------
# :class:`~skcells.multiview.MultiViewClassifier` wraps any classifier.  A
# skorch net is trained on a dataset that cuts a fresh random crop of every
# sample each time it is read, so each epoch sees new views, as in the
# paper's training augmentation.  The network is deliberately small so that
# the example runs in seconds on a CPU.


class SmallCNN(torch.nn.Module):
    """Two convolutions, global pooling and a linear layer (logits)."""

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
        self.head = torch.nn.Linear(2 * width, 2)

    def forward(self, x):
        return self.head(self.features(x))


torch.manual_seed(0)
net = NeuralNetClassifier(
    SmallCNN,
    criterion=torch.nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=3e-3,
    max_epochs=30,
    batch_size=32,
    train_split=None,
    verbose=0,
)
clf = MultiViewClassifier(
    net, n_views=30, crop_scale=(0.1, 0.2), output_size=16, random_state=0
)
clf.fit(X_train, y_train)

# %%
# One view against many
# ---------------------
# :meth:`~skcells.multiview.MultiViewClassifier.predict_views` returns the
# label and the confidence of every view (Eq. 3).  The views are independent
# draws, so the first ``m`` of 30 views are a valid ``m``-view prediction and
# one call serves every ``m``: the aggregation functions
# :func:`~skcells.multiview.aggregate_mode` (``"mode"``, MVM) and
# :func:`~skcells.multiview.aggregate_weighted` (``"weighted"``, MVWCo-S) do
# the rest.  The
# grey dots are the accuracies of the 30 single views taken one at a time:
# the paper's single-view baseline and its spread.  With an even number of
# views the mode can tie; a tie goes to the class that comes first in
# ``classes_``, while MVWCo-S breaks it with the confidences.
labels, confidences = clf.predict_views(X_test)
codes = np.searchsorted(clf.classes_, labels)
n_classes = len(clf.classes_)

single = (labels == y_test[:, None]).mean(axis=0)
counts = [1, 2, 3, 5, 10, 20, 30]
acc_mode, acc_weighted = [], []
for m in counts:
    mode = aggregate_mode(codes[:, :m], n_classes).argmax(axis=1)
    weighted = aggregate_weighted(codes[:, :m], confidences[:, :m], n_classes)
    acc_mode.append(np.mean(clf.classes_[mode] == y_test))
    acc_weighted.append(np.mean(clf.classes_[weighted.argmax(axis=1)] == y_test))

fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
ax.plot(np.ones_like(single), single, "o", color="gray", alpha=0.5, label="one view")
ax.plot(counts, acc_mode, "o-", label='"mode" (MVM, Eq. 4)')
ax.plot(counts, acc_weighted, "s--", label='"weighted" (MVWCo-S, Eq. 5)')
ax.set_xscale("log")
ax.set_xticks(counts, [str(m) for m in counts])
ax.set_xlabel("number of views m")
ax.set_ylabel("test accuracy")
ax.legend(loc="lower right")
plt.show()
print(f"single view: {single.mean():.3f} +- {single.std():.3f}")
print(f"30 views:    MVM {acc_mode[-1]:.3f}, MVWCo-S {acc_weighted[-1]:.3f}")

# %%
# ``n_views`` and ``aggregation`` are read at predict time, so the fitted
# classifier switches between them with ``set_params`` and no refitting; the
# result is the same as aggregating by hand above.
clf.set_params(n_views=30, aggregation="weighted")
print("MultiViewClassifier.score:", clf.score(X_test, y_test))

# %%
# The merges of test-time augmentation are there as well: the mean of the
# views' probabilities, their geometric mean (a class that one view rules out
# is ruled out) and their maximum.  Flips and 90-degree rotations
# (:class:`~skcells.multiview.DihedralViews`), their composition with the
# crops and any torchvision transform plug in as ``views=`` (see the user
# guide).
for aggregation in ("mean", "geometric_mean", "max"):
    score = clf.set_params(aggregation=aggregation).score(X_test, y_test)
    print(f"{aggregation:>15}: {score:.3f}")

# %%
# Uncertainty and abstention
# --------------------------
# :meth:`~skcells.multiview.MultiViewClassifier.predict_uncertainty` also
# returns the *agreement*, the fraction of views that voted for the final
# label, and the entropy of the votes.  Wrong predictions tend to have a low
# agreement.  Abstaining on the inputs whose agreement is lowest trades
# coverage for accuracy: the curve shows the accuracy on the inputs that are
# kept, as the threshold rises.
clf.set_params(aggregation="mode")
result = clf.predict_uncertainty(X_test)
correct = result.prediction == y_test

thresholds = np.unique(result.agreement)
coverage = np.array([np.mean(result.agreement >= a) for a in thresholds])
kept_accuracy = np.array([correct[result.agreement >= a].mean() for a in thresholds])

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
bins = np.linspace(0.5, 1.0, 11)
axes[0].hist(
    [result.agreement[correct], result.agreement[~correct]],
    bins=bins,
    label=["correct", "wrong"],
    color=["tab:green", "tab:red"],
)
axes[0].set_xlabel("agreement of the 30 views")
axes[0].set_ylabel("number of test frames")
axes[0].legend()
axes[1].plot(coverage, kept_accuracy, "o-")
axes[1].set_xlabel("coverage (fraction of inputs answered)")
axes[1].set_ylabel("accuracy on the answered inputs")
axes[1].invert_xaxis()
plt.show()

keep = result.agreement >= 0.8
print(
    f"answering only where >= 80 % of the views agree: coverage "
    f"{keep.mean():.2f}, accuracy {correct[keep].mean():.3f} "
    f"(all inputs: {correct.mean():.3f})"
)
