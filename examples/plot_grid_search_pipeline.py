"""
=====================================================
Grid search over a pipeline with a curriculum network
=====================================================

The estimators of skcells are scikit-learn estimators, so they go into a
:class:`~sklearn.pipeline.Pipeline` and through
:class:`~sklearn.model_selection.GridSearchCV` like any other.  This example
builds the paper's full model, a
:class:`~skcells.multiview.MultiViewClassifier` around a
:class:`~skcells.curriculum.CurriculumNeuralNetClassifier`, after a
preprocessing step, and cross-validates a grid of curriculum and crop
parameters.  The per-sample ``difficulty`` travels through the search and the
pipeline to the network of every fold, sliced to the fold's training samples.
"""

# %%
# Data
# ----
# Synthetic frames of 48 x 48 pixels, labelled by their WBC count, with the
# difficulty of paper Eq. 2.  A quarter is held out for the final test.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import sklearn
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skcells.curriculum import CurriculumNeuralNetClassifier
from skcells.datasets import fetch_synthetic_blood_videos
from skcells.multiview import MultiViewClassifier

data = fetch_synthetic_blood_videos(
    n_videos=320, n_frames=1, size=48, target="wbc", random_state=0
)
X, y, difficulty = data.data[:, 0], data.target, data.difficulty
X_train, X_test, y_train, y_test, d_train, d_test = train_test_split(
    X, y, difficulty, test_size=0.25, stratify=y, random_state=0
)

# %%
# The pipeline
# ------------
# The first step turns the uint8 frames into floats in ``[0, 1]``; the second
# is the multi-view classifier, which trains the curriculum network on fresh
# random crops every epoch and predicts from 10 views.


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


def to_unit_float(X):
    """uint8 frames to float32 in [0, 1]."""
    return np.asarray(X, dtype=np.float32) / np.float32(255.0)


net = CurriculumNeuralNetClassifier(
    SmallCNN,
    criterion=torch.nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=3e-3,
    max_epochs=12,
    batch_size=32,
    curriculum_epochs=6,
    competence_power=2,
    train_split=None,
    verbose=0,
)
pipe = Pipeline(
    [
        ("scale", FunctionTransformer(to_unit_float)),
        (
            "clf",
            MultiViewClassifier(
                net, n_views=10, output_size=16, aggregation="weighted", random_state=0
            ),
        ),
    ]
)

# %%
# The grid
# --------
# Nested parameters use scikit-learn's double-underscore names:
# ``clf__estimator__initial_competence`` is ``c0`` of the curriculum network
# (1 trains on every sample from the first epoch, i.e. no curriculum) and
# ``clf__crop_scale`` the area fraction of the crops.  The search refits every
# candidate, and ``fit`` trains on the crops of the classifier's parameters as
# they are then, so here ``crop_scale`` sets both the training crops and the
# prediction crops.  (Set ``train_views`` to fix the training crops, and
# ``crop_scale`` is then the prediction crops only -- which, like ``n_views``,
# is cheaper to tune after one fit, see the end of the example.)
param_grid = {
    "clf__estimator__initial_competence": [0.1, 1.0],
    "clf__crop_scale": [(0.1, 0.2), (0.3, 0.5)],
}
search = GridSearchCV(
    pipe,
    param_grid,
    cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
    scoring="accuracy",
)

# %%
# Routing the difficulty
# ----------------------
# With metadata routing on, ``difficulty`` is passed by its own name:
# :class:`~skcells.curriculum.CurriculumNeuralNetClassifier` requests it for
# ``fit``, :class:`~skcells.multiview.MultiViewClassifier` forwards it to its
# network, the pipeline to its last step, and the search slices it to each
# fold's training samples.  (Without routing, the same works as
# ``search.fit(X_train, y_train, clf__difficulty=d_train)``, the pipeline's
# step-prefixed name.)
torch.manual_seed(0)
with sklearn.config_context(enable_metadata_routing=True):
    search.fit(X_train, y_train, difficulty=d_train)

results = pd.DataFrame(search.cv_results_)
columns = [
    "param_clf__estimator__initial_competence",
    "param_clf__crop_scale",
    "mean_test_score",
    "std_test_score",
    "rank_test_score",
]
results[columns].sort_values("rank_test_score")

# %%
# The cross-validated accuracy of each grid point.  The row ``c0 = 1`` is the
# same network without a curriculum, so the two rows compare training with
# and without it at each crop scale.
scores = results.pivot(
    index="param_clf__estimator__initial_competence",
    columns="param_clf__crop_scale",
    values="mean_test_score",
)
fig, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
image = ax.imshow(scores.to_numpy(), cmap="viridis")
ax.set_xticks(range(scores.shape[1]), [str(c) for c in scores.columns])
ax.set_yticks(range(scores.shape[0]), [str(c) for c in scores.index])
ax.set_xlabel("crop_scale")
ax.set_ylabel("initial competence c0")
middle = 0.5 * (np.nanmin(scores.to_numpy()) + np.nanmax(scores.to_numpy()))
for (i, j), value in np.ndenumerate(scores.to_numpy()):
    color = "black" if value > middle else "white"
    ax.text(j, i, f"{value:.3f}", ha="center", va="center", color=color)
fig.colorbar(image, ax=ax, label="mean CV accuracy")
plt.show()

# %%
# The refitted best pipeline on the held-out frames:
print(f"best parameters: {search.best_params_}")
print(f"test accuracy: {search.score(X_test, y_test):.3f}")

# %%
# ``n_views`` and ``aggregation`` only act at prediction time, and so does
# ``crop_scale`` when it is changed after ``fit``.  Putting them in the grid
# works, but every candidate would retrain the network;
# :func:`~skcells.tuning.tune_predict_time` scores them on one fitted model,
# here the refitted best pipeline (the
# :ref:`tuning example <sphx_glr_auto_examples_plot_optuna_tuning.py>` shows a
# whole study).
from skcells.tuning import PredictTimeObjective, PredictTimeSpace, tune_predict_time

X_val, X_rest, y_val, y_rest = train_test_split(
    X_test, y_test, test_size=0.5, stratify=y_test, random_state=0
)
best_pipe = search.best_estimator_
study = tune_predict_time(
    best_pipe,
    X_val,
    y_val,
    space=PredictTimeSpace(n_views=(1, 20)),
    n_trials=10,
    random_state=0,
)
prefix = PredictTimeObjective(best_pipe, X_val, y_val).prefix_
best = PredictTimeSpace.to_estimator_params(study.best_params)
print(f"best prediction parameters of step {prefix!r}: {best}")
before = best_pipe.score(X_rest, y_rest)
best_pipe.set_params(**{prefix + name: value for name, value in best.items()})
print(
    f"accuracy on the other held-out half: {before:.3f} -> "
    f"{best_pipe.score(X_rest, y_rest):.3f}"
)

# %%
# Half of the held-out frames chose the prediction parameters, so only the
# other half judges them; with 40 frames, one frame is 2.5 percentage points.
