"""
====================================
Competence-based curriculum learning
====================================

Curriculum learning trains on easy samples first and adds harder ones as the
model's *competence* grows (Platanios et al., 2019).  The paper (Appendix B,
Eq. 2) scores each video with a difficulty ``d = alpha * b + beta * l`` (blur
radius and distance term) and, at epoch ``t``, trains only on the samples
whose difficulty is at most

.. math::

    c(t) = \\min\\left(1, \\sqrt[p]{t \\frac{1 - c_0^p}{T} + c_0^p}\\right).

This example draws the paper's Fig. 2 for the synthetic dataset, compares
schedules, and trains a
:class:`~skcells.curriculum.CurriculumNeuralNetClassifier` to show the
schedule it followed.
"""

# %%
# The difficulty of the paper's 1150 videos
# -----------------------------------------
# :class:`~skcells.datasets.SyntheticBloodVideos` computes every video's
# metadata, difficulty included, without rendering a frame.  With the
# parameters of the paper's Fig. 2 (``alpha = beta = 0.5``, ``c0 = 0.05``,
# ``T = 1000``, ``p = 2``), :func:`~skcells.curriculum.plot_curriculum` draws
# the difficulty histogram and the competence curve.  The dashed line is the
# fraction of the data that the competence admits: difficulties are mapped
# to ``[0, 1]`` by their empirical CDF first, so that competence ``c`` admits
# about a fraction ``c`` of the samples.
import matplotlib.pyplot as plt
import numpy as np
import torch
from skorch import NeuralNetClassifier

from skcells.curriculum import (
    CurriculumNeuralNetClassifier,
    competence,
    plot_curriculum,
    scale_difficulty,
)
from skcells.datasets import SyntheticBloodVideos, fetch_synthetic_blood_videos

meta = SyntheticBloodVideos(1150, target="wbc", random_state=0).metadata
difficulty = meta["difficulty"].to_numpy()
fig = plot_curriculum(
    difficulty, curriculum_epochs=1000, initial_competence=0.05, competence_power=2
)
plt.show()

# %%
# Schedules
# ---------
# :func:`~skcells.curriculum.competence` is vectorised over ``t``.  ``p = 1``
# grows linearly; larger powers admit data faster at first, which gives the
# model more samples while each new one still matters (Platanios et al.
# recommend ``p = 2``).  Every schedule reaches 1 at ``t = T`` and stays
# there.
t = np.arange(0, 1251)
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
for p in (1, 2, 3):
    ax.plot(t, competence(t, T=1000, c0=0.05, p=p), label=f"p = {p}")
ax.axvline(1000, color="black", linewidth=0.8, linestyle=":")
ax.set_xlabel("epoch t")
ax.set_ylabel("competence c(t)")
ax.legend()
plt.show()

# %%
# Which samples enter first?
# --------------------------
# With the default ``distance_rule="boundary"`` a video is hard when it is
# blurred and when its count is close to the mean, the class boundary.  Here
# are the videos admitted at a competence of 0.3, by condition.
scaled = scale_difficulty(difficulty, method="cdf")
admitted = scaled <= 0.3
table = meta.assign(admitted=admitted).groupby("condition", observed=True)
print(table["admitted"].mean().round(2).to_string())

# %%
# Train a network with a curriculum
# ---------------------------------
# :class:`~skcells.curriculum.CurriculumNeuralNetClassifier` is a
# :class:`skorch.NeuralNetClassifier` whose ``fit`` accepts ``difficulty``.
# It is fitted here on 300 single frames (32 x 32 pixels) of the synthetic
# videos, labelled by their WBC count, with a short curriculum: ``T = 8``
# epochs, ``c0 = 0.1``, ``p = 2``.  A plain :class:`skorch.NeuralNetClassifier`
# is trained on the same data for comparison.
data = fetch_synthetic_blood_videos(
    n_videos=300, n_frames=1, size=32, target="wbc", random_state=0
)
X = data.data[:, 0].astype(np.float32) / 255.0
y = data.target.astype(np.int64)


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


common = dict(
    module=SmallCNN,
    criterion=torch.nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=3e-3,
    max_epochs=12,
    batch_size=32,
    verbose=0,
)
torch.manual_seed(0)
curriculum_net = CurriculumNeuralNetClassifier(
    curriculum_epochs=8, initial_competence=0.1, competence_power=2, **common
)
curriculum_net.fit(X, y, difficulty=data.difficulty)
torch.manual_seed(0)
plain_net = NeuralNetClassifier(**common).fit(X, y)

# %%
# The history records, for every epoch, the competence and the number of
# training samples used; early epochs are short because they see few
# samples.  skorch's internal validation split (20 % here) is never
# filtered: both nets are scored on the same held-out frames.
history = curriculum_net.history
print("competence:", np.round(history[:, "competence"], 2))
print("samples per epoch:", history[:, "n_curriculum_samples"])
print(
    f"final validation accuracy: curriculum {history[-1, 'valid_acc']:.3f}, "
    f"plain {plain_net.history[-1, 'valid_acc']:.3f}"
)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
epochs = np.arange(1, len(history) + 1)
axes[0].plot(epochs, history[:, "valid_acc"], "o-", label="curriculum")
axes[0].plot(epochs, plain_net.history[:, "valid_acc"], "s--", label="plain")
axes[0].set_xlabel("epoch")
axes[0].set_ylabel("validation accuracy")
axes[0].legend()
axes[1].bar(epochs, history[:, "n_curriculum_samples"], color="tab:orange")
axes[1].set_xlabel("epoch")
axes[1].set_ylabel("training samples used")
plt.show()

# %%
# :func:`~skcells.curriculum.plot_curriculum` also accepts the history of a
# fitted net and marks the competence it recorded on the schedule.
fig = plot_curriculum(
    data.difficulty,
    curriculum_epochs=8,
    initial_competence=0.1,
    competence_power=2,
    n_epochs=12,
    history=history,
)
plt.show()

# %%
# On a dataset this small and a dozen epochs the comparison of the final
# accuracies is anecdotal; the paper, too, found the effect of the curriculum
# "not obvious" (about +1 % on videos, a small loss on single frames).  What
# the curriculum always buys is cheaper early epochs, since they iterate over
# fewer samples.
