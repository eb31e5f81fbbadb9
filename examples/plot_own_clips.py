"""
======================================================
Your own clips: load, train, save, predict on new ones
======================================================

The whole path of a microscopy user with recordings of their own: a folder of
video files and a CSV of labels, :func:`~skcells.datasets.load_videos` to
read them into the library's array layout, a difficulty for the curriculum
from the pixels (:func:`~skcells.datasets.estimate_difficulty`), a curriculum
network inside a multi-view classifier, :func:`~skcells.persistence.save_model`
to keep it, and ``skcells predict`` to apply it to clips recorded later, with
an abstain flag where the views disagree.
"""

# %%
# A folder of clips
# -----------------
# Point :func:`~skcells.datasets.load_videos` at your own folder.  To run
# anywhere, this example first writes one: 60 short AVI clips (lossless
# FFV1, 64 x 64 pixels, 6 frames) of moving red and white blood cells drawn by
# the library's renderer, blurred and noisy to various degrees, and a
# ``labels.csv`` with the
# white-cell count of each.  A clip is labelled *high* when its count is
# above the median of the first 40 (the training clips); the last 20 play
# the clips recorded later.
import tempfile
from pathlib import Path

import av
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from skcells.datasets import estimate_difficulty, load_videos, render_video

root = Path(tempfile.mkdtemp())
rng = np.random.default_rng(0)


def write_clip(path, video, fps=10):
    """Write a (frames, 3, height, width) uint8 clip as a lossless AVI."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=fps)
        stream.height, stream.width = video.shape[2:]
        stream.pix_fmt = "bgr0"
        for frame in video.transpose(0, 2, 3, 1):  # (height, width, RGB)
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), "rgb24")
            container.mux(stream.encode(picture))
        container.mux(stream.encode())


rows = []
for i in range(60):
    folder = root / ("recorded" if i < 40 else "later")
    folder.mkdir(exist_ok=True)
    wbc = int(rng.integers(50, 350))
    blur, noise = int(rng.integers(0, 8)), float(rng.uniform(0, 0.3))
    video = render_video(
        5000, wbc, n_frames=6, size=64, blur=blur, noise=noise, random_state=i
    )
    write_clip(folder / f"clip{i:02d}.avi", video)
    rows.append({"filename": f"clip{i:02d}.avi", "wbc_count": wbc})
labels = pd.DataFrame(rows)
threshold = labels["wbc_count"][:40].median()
labels["label"] = np.where(labels["wbc_count"] > threshold, "high", "low")
labels[:40][["filename", "label"]].to_csv(root / "recorded" / "labels.csv", index=False)
print(sorted(p.name for p in (root / "recorded").iterdir())[:4], "...")

# %%
# Load them
# ---------
# Every clip becomes ``n_frames`` frames of ``size`` pixels, uint8, in one
# memory-mapped array ``(n_clips, n_frames, 3, height, width)``, the layout
# of the synthetic data; ``target`` is the ``label`` column of the CSV, in the
# order of the clips.  The decoded clips are cached, so a second call only
# hashes the files.
data_home = root / "cache"
videos = load_videos(
    root / "recorded",
    n_frames=6,
    size=64,
    labels=root / "recorded" / "labels.csv",
    data_home=data_home,
)
print(videos.data.shape, videos.data.dtype, videos.target[:5])

fig, axes = plt.subplots(1, 6, figsize=(9, 1.9), layout="constrained")
for ax, i in zip(axes, range(6)):
    ax.imshow(videos.data[i, 0].transpose(1, 2, 0))
    ax.set_title(f"{videos.names[i]}\n{videos.target[i]}", fontsize=8)
    ax.axis("off")
plt.show()

# %%
# A difficulty for the curriculum
# -------------------------------
# The curriculum (paper Eq. 2) trains on easy clips first.  Your clips have no
# known blur radius, so :func:`~skcells.datasets.estimate_difficulty` measures
# the blur from the pixels; with a high/low label, a count close to the
# threshold is hard too (``distance_rule="boundary"``).
counts = labels["wbc_count"][:40].to_numpy()
difficulty = estimate_difficulty(
    videos.data, counts=counts, center=threshold, distance_rule="boundary"
)

# %%
# Train: curriculum and many views
# --------------------------------
# One frame per clip is the input of a small 9-layer CNN, which takes the
# uint8 frames as they are.  The multi-view classifier trains it on fresh
# random crops of 10-25 % of the frame every epoch and predicts from 10 of
# them.
from skcells.curriculum import CurriculumNeuralNetClassifier
from skcells.models import CNN9
from skcells.multiview import MultiViewClassifier

frames = np.array(videos.data[:, 0])
torch.manual_seed(0)
net = CurriculumNeuralNetClassifier(
    CNN9,
    module__n_classes=2,
    module__width=0.125,
    criterion=torch.nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=3e-3,
    max_epochs=15,
    batch_size=8,
    curriculum_epochs=8,
    train_split=None,
    verbose=0,
)
clf = MultiViewClassifier(
    net, n_views=10, crop_scale=(0.1, 0.25), output_size=32, random_state=0
)
clf.fit(frames, videos.target, difficulty=difficulty)
history = clf.estimator_.history
plt.figure(figsize=(5, 2.5))
plt.plot(history[:, "epoch"], history[:, "n_curriculum_samples"], marker="o")
plt.xlabel("epoch")
plt.ylabel("training clips used")
plt.title("The curriculum: easy clips first")
plt.show()

# %%
# Save it
# -------
# :func:`~skcells.persistence.save_model` writes the classifier, its network's
# weights and everything ``fit`` learned into one file.  Loading it never
# unpickles anything (no code from the file runs): the parameters go through
# skops and the weights through ``torch.load(weights_only=True)``.
from skcells.persistence import load_model, save_model

model_path = save_model(clf, root / "wbc.skcells")
print(f"{model_path.name}: {model_path.stat().st_size / 1e3:.0f} kB")
assert (load_model(model_path).predict(frames) == clf.predict(frames)).all()

# %%
# Predict on the clips recorded later
# -----------------------------------
# ``skcells predict`` loads the model, reads the new clips with
# :func:`~skcells.datasets.load_videos` in the model's layout (here the first
# frame of each, at the training size) and writes one row per clip: the
# prediction, the class scores, the fraction of views that agree with the
# prediction, and an abstain flag below ``--min-agreement``.  On the command
# line this is::
#
#     skcells predict wbc.skcells later/ --out predictions.csv --min-agreement 0.9
from skcells.cli import main

out = root / "predictions.csv"
status = main(
    [
        "predict",
        str(model_path),
        str(root / "later"),
        "--out",
        str(out),
        "--min-agreement",
        "0.9",
        "--data-home",
        str(data_home),
        "--no-progress",
    ]
)
predictions = pd.read_csv(out)
predictions["clip"] = predictions["source"].map(lambda s: Path(s).name)
predictions = predictions.merge(labels, left_on="clip", right_on="filename")
predictions[["clip", "prediction", "label", "agreement", "abstain"]].head(8)

# %%
# Abstaining where the views disagree
# -----------------------------------
# The agreement of the views is a per-clip confidence: the clips the model
# answers (agreement at least 0.9) should be right more often than the ones
# it leaves to a human (with 10 views, two that vote otherwise are enough to
# abstain).
correct = predictions["prediction"] == predictions["label"]
answered = ~predictions["abstain"]
print(f"accuracy on all {len(predictions)} new clips: {correct.mean():.2f}")
if answered.any():
    print(
        f"accuracy on the {answered.sum()} answered clips: "
        f"{correct[answered].mean():.2f}"
    )
fig, ax = plt.subplots(figsize=(5, 2.8), layout="constrained")
bins = np.linspace(0, 1, 11)
ax.hist(
    [predictions["agreement"][correct], predictions["agreement"][~correct]],
    bins=bins,
    stacked=True,
    label=["right", "wrong"],
)
ax.axvline(0.9, color="black", linestyle="--", label="--min-agreement")
ax.set_xlabel("agreement of the views")
ax.set_ylabel("new clips")
ax.legend()
plt.show()

# %%
# With 20 new clips, one clip is 5 percentage points: judge a model on many
# more of your own before trusting it.  The :ref:`persistence guide
# <persistence>` has the details of the file format and of ``skcells
# predict``; :ref:`own_data` has those of the loader and the difficulty.
