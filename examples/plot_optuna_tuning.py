"""
=============================================
Tuning the crop scale and the number of views
=============================================

The number of views and the crop scale are extra hyper-parameters of the
multi-view method; the paper found that more views help, but that "the
dependence on the crop scale is not obvious and should be studied".  The
network is trained once, on the crops ``fit`` cuts; after that, ``n_views``,
``crop_scale`` and ``aggregation`` only change the views it predicts from,
so they can be tuned without retraining it:
:func:`~skcells.tuning.tune_predict_time` runs an Optuna study whose trials
re-score one fitted :class:`~skcells.multiview.MultiViewClassifier` on
validation data with different prediction parameters.  (A search that
refits, such as the
:ref:`grid example <sphx_glr_auto_examples_plot_grid_search_pipeline.py>`,
changes the training crops with ``crop_scale`` too.)

The study here lives in a local journal file.  The same code (or the
``skcells tune`` command) with a PostgreSQL URL lets many workers on many
machines add trials to one shared study; see the end of the example.
"""

# %%
# Train once
# ----------
# Synthetic frames of 48 x 48 pixels labelled by their WBC count, split into
# training, validation (for the study) and test (for the final check) sets.
# The network is trained on the paper's 10-20 % crops.
import tempfile

import matplotlib.pyplot as plt
import optuna
import torch
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier

from skcells.datasets import fetch_synthetic_blood_videos
from skcells.multiview import MultiViewClassifier
from skcells.tuning import (
    PredictTimeSpace,
    best_trial_summary,
    load_or_create_study,
    plot_history,
    trials_table,
    tune_predict_time,
)

data = fetch_synthetic_blood_videos(
    n_videos=500, n_frames=1, size=48, target="wbc", random_state=0
)
X, y = data.data[:, 0], data.target
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)
X_val, X_test, y_val, y_test = train_test_split(
    X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0
)


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
    max_epochs=25,
    batch_size=32,
    train_split=None,
    verbose=0,
)
clf = MultiViewClassifier(
    net, n_views=10, crop_scale=(0.1, 0.2), output_size=16, random_state=0
)
clf.fit(X_train, y_train)
print(f"paper's setting (10 views, 10-20 % crops): {clf.score(X_val, y_val):.3f}")

# %%
# A study in a journal file
# -------------------------
# :func:`~skcells.tuning.load_or_create_study` opens a study in a storage:
# by default a journal file in ``out_dir``, or any Optuna storage URL.
# :class:`~skcells.tuning.PredictTimeSpace` is the search space: 1 to 30
# views, a lower crop-scale bound in 5-50 % of the area, an upper bound in
# 10-100 % (never below the lower one), and the three aggregation rules.
# ``random_state`` makes every trial draw its crops from the same random
# stream, so trials differ by their parameters, not by luck.
out_dir = tempfile.mkdtemp()
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = load_or_create_study(
    "wbc-views",
    out_dir=out_dir,
    create=True,
    sampler=optuna.samplers.TPESampler(seed=0),
)
space = PredictTimeSpace(n_views=(1, 30))
study = tune_predict_time(
    clf, X_val, y_val, space=space, n_trials=30, study=study, random_state=0
)
print(best_trial_summary(study))

# %%
# What the study found
# --------------------
# :func:`~skcells.tuning.trials_table` returns the trials as a DataFrame.
# Each point is one trial, scored on the validation frames.
table = trials_table(study)
crop_mid = 0.5 * (table["params_crop_scale_low"] + table["params_crop_scale_high"])
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
for aggregation, marker in zip(("mode", "weighted", "mean"), "os^"):
    rows = table["params_aggregation"] == aggregation
    axes[0].scatter(
        table.loc[rows, "params_n_views"],
        table.loc[rows, "value"],
        marker=marker,
        label=aggregation,
    )
    axes[1].scatter(crop_mid[rows], table.loc[rows, "value"], marker=marker)
axes[0].set_xlabel("n_views")
axes[0].set_ylabel("validation accuracy")
axes[0].legend(title="aggregation")
axes[1].set_xlabel("middle of crop_scale (fraction of the frame area)")
axes[1].set_ylabel("validation accuracy")
plt.show()

# %%
# :func:`~skcells.tuning.plot_history` draws the optimisation history.
fig = plot_history(study)
plt.show()

# %%
# Use the best parameters
# -----------------------
# :meth:`~skcells.tuning.PredictTimeSpace.to_estimator_params` turns the best
# trial into ``set_params`` arguments; the fitted classifier takes them
# without refitting.  The test frames were not used by the study.
best = PredictTimeSpace.to_estimator_params(study.best_params)
print("best:", best)
default_score = clf.score(X_test, y_test)
tuned_score = clf.set_params(**best).score(X_test, y_test)
print(f"test accuracy, paper's setting: {default_score:.3f}")
print(f"test accuracy, tuned:           {tuned_score:.3f}")

# %%
# With 125 test frames one frame is 0.8 percentage points, and a study of 30
# trials on 125 validation frames can overfit the validation set: compare on
# more data (or with cross-validation) before trusting a small difference.

# %%
# One study, many workers
# -----------------------
# The journal file above serves one machine.  To spread the trials over
# several machines, put the study in a database that all of them reach and
# run the same code, or the same command, on each::
#
#     # on every worker
#     skcells tune --storage postgresql+psycopg2://user:password@db:5432/optuna \
#         --study wbc-views --create --n-trials 20
#
# In Python, pass the URL as ``storage``::
#
#     study = load_or_create_study(
#         "wbc-views",
#         storage="postgresql+psycopg2://user:password@db:5432/optuna",
#         create=True,
#         heartbeat_interval=10,
#     )
#     tune_predict_time(clf, X_val, y_val, study=study, n_trials=20)
#
# Each worker asks the shared study for parameters, so the sampler sees
# every worker's results; with a heartbeat, a trial whose worker died is
# marked failed instead of staying "running" forever.  The
# :ref:`tuning guide <tuning>` has the details.
