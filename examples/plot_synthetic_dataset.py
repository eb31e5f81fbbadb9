"""
====================================================
The synthetic blood-cell videos and their conditions
====================================================

The paper's dataset (Appendix A, Fig. 1) is a set of short videos of moving
red and white blood cells (RBCs, WBCs) seen through a microscope.  Every
video is *clear*, *blurred*, *noisy* or *blurred and noisy*, in the
proportions 0.130 / 0.304 / 0.217 / 0.349, and is labelled *high* (1) when
its WBC (or RBC) count is above the mean of the count distribution.

This example renders a small version of the dataset, shows one frame of each
condition (the paper's Fig. 1 b-d), shows what the four conditions do to one
and the same scene, and looks at the per-video metadata that the curriculum
uses: blur radius, noise level, count and difficulty (paper Eq. 2).
"""

# %%
# Render a small dataset
# ----------------------
# :func:`~skcells.datasets.fetch_synthetic_blood_videos` renders the videos
# once into a cache under :func:`~skcells.datasets.get_data_home` and returns
# a :class:`~sklearn.utils.Bunch` whose ``data`` is a read-only memory map of
# shape ``(n_videos, n_frames, 3, size, size)``.  The paper's set is 1150
# videos of 100 frames of 128 x 128 pixels; here 64 videos of 8 frames of
# 96 x 96 pixels are enough to see every condition.
import matplotlib.pyplot as plt
import numpy as np

from skcells.datasets import (
    SyntheticBloodVideos,
    fetch_synthetic_blood_videos,
    plot_sample_frames,
    render_video,
    summarize_conditions,
)

data = fetch_synthetic_blood_videos(
    n_videos=64, n_frames=8, size=96, target="wbc", random_state=0
)
print(data.data.shape, data.data.dtype)
print("labels (1 = WBC count above the mean):", data.target[:12])

# %%
# One frame per condition (Fig. 1 b-d)
# ------------------------------------
# :func:`~skcells.datasets.plot_sample_frames` shows the first video of each
# condition with its blur radius ``b`` and noise level ``s``.  The dense red
# texture is made of about 5000 RBCs; the larger lilac discs with a dark
# nucleus are WBCs.  The function returns a :class:`matplotlib.figure.Figure`
# that pyplot does not manage (it is safe in scripts and worker processes);
# ``plt.figure(fig)`` hands it to pyplot for display.
fig = plot_sample_frames(data.data, data.condition, blur=data.blur, noise=data.noise)
plt.figure(fig)
plt.show()

# %%
# One scene, four conditions
# --------------------------
# :func:`~skcells.datasets.render_video` renders one video from explicit
# counts; the same ``random_state`` gives the same cells and motion, so only
# the degradation changes between the panels.  Blur smears the cell
# boundaries (the radius ``b`` is at most 10 pixels at 128 x 128), noise
# hides the faint ones.
conditions = {
    "clear": dict(blur=0, noise=0.0),
    "blurred (b=6)": dict(blur=6, noise=0.0),
    "noisy (s=0.25)": dict(blur=0, noise=0.25),
    "blurred+noisy": dict(blur=6, noise=0.25),
}
fig, axes = plt.subplots(1, 4, figsize=(12, 3.4), layout="constrained")
for ax, (title, degradation) in zip(axes, conditions.items()):
    video = render_video(5000, 250, n_frames=1, size=128, random_state=7, **degradation)
    ax.imshow(video[0].transpose(1, 2, 0))
    ax.set_title(title)
    ax.set_axis_off()
plt.show()

# %%
# The cells move
# --------------
# Each coordinate of each cell follows the Wiener process of the paper's
# Eq. 1: between two frames it moves by one ``step`` (1 pixel) up or down at
# random.  The difference between the first and the last frame of a clear
# video shows where cells moved.
video = render_video(5000, 250, n_frames=30, size=128, random_state=7)
first, last = video[0].astype(float), video[-1].astype(float)
fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), layout="constrained")
axes[0].imshow(video[0].transpose(1, 2, 0))
axes[0].set_title("frame 0")
axes[1].imshow(video[-1].transpose(1, 2, 0))
axes[1].set_title("frame 29")
axes[2].imshow(np.abs(last - first).mean(axis=0), cmap="magma")
axes[2].set_title("|frame 29 - frame 0|")
for ax in axes:
    ax.set_axis_off()
plt.show()

# %%
# A summary per condition
# -----------------------
# :func:`~skcells.datasets.summarize_conditions` tabulates the rendered set:
# the share of each condition, the mean blur and noise, the mean counts, the
# label balance, the mean difficulty and the high-frequency energy of the
# frames, which blur lowers and noise raises.
summary = summarize_conditions(data)
summary.round(3)

# %%
# Metadata of the full-size dataset
# ---------------------------------
# :class:`~skcells.datasets.SyntheticBloodVideos` is a
# :class:`torch.utils.data.Dataset` that renders a video only when it is
# requested; its ``metadata`` table is computed without rendering anything,
# so the paper's 1150 videos cost nothing here.  The condition shares follow
# the paper's proportions, and the counts follow N(5000, 97.9) for RBCs and
# N(202, 95.5) for WBCs; the mean is the class boundary.
#
# The difficulty of each video is paper Eq. 2, ``d = alpha * b + beta * l``
# with ``alpha = beta = 0.5``: ``b`` is the blur radius divided by 10 and
# ``l`` grows as the count nears the class boundary (see
# :func:`~skcells.datasets.difficulty_score`).  Blurred videos are harder
# on average; within a condition, the spread comes from the count term.
full = SyntheticBloodVideos(1150, random_state=0)
meta = full.metadata
paper = {"clear": 0.130, "blurred": 0.304, "noisy": 0.217, "blurred+noisy": 0.349}
shares = meta["condition"].value_counts(normalize=True)
for name, expected in paper.items():
    print(f"{name:>14}: {shares[name]:.3f} (paper {expected:.3f})")

fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained")
for ax, column, mean in zip(axes[:2], ["wbc_count", "rbc_count"], [202, 5000]):
    ax.hist(meta[column], bins=30, color="tab:gray", edgecolor="white")
    ax.axvline(mean, color="tab:red", label="mean = class boundary")
    ax.set_xlabel(column)
    ax.legend(loc="upper right", fontsize="small")
axes[0].set_ylabel("number of videos")

order = list(paper)
axes[2].boxplot(
    [meta.loc[meta["condition"] == name, "difficulty"] for name in order],
    tick_labels=[name.replace("+", "+\n") for name in order],
)
axes[2].set_ylabel("difficulty d (Eq. 2)")
plt.show()
