"""Benchmark of MultiViewClassifier.predict (m views per input, batched crops).

Same model (a small CNN in a skorch ``NeuralNetClassifier``, eval mode) and
same data, measured side by side in one run:

(a) ``MultiViewClassifier.predict`` with ``m`` views per image against the bare
    net's ``predict_proba`` on the ``n * m`` views cut beforehand: the ratio is
    the overhead of cutting (one batched ``roi_align`` call), hashing and
    aggregating.  Target: <= 1.10x.
(b) A per-view Python loop: for every image, ``m`` crops by
    ``torchvision.transforms.v2.RandomResizedCrop`` one at a time, the net's
    ``predict_proba`` on those ``m`` crops, the mode of the labels.  Target:
    ``MultiViewClassifier.predict`` >= 3x faster.

(c) Peak memory of ``MultiViewClassifier.predict`` with ``batch_size=None``
    on ``--clips`` uint8 clips of 9x3x128x128 (10 views of 9-frame windows),
    cutting the views as the library does (only the boxes of the views are
    gathered from the uint8 frames, then converted) against the previous
    whole-frame conversion (every view's frame window gathered whole and
    converted to float32, then cropped), each in a fresh subprocess: the
    increase of the peak resident set size (``ru_maxrss``) during
    ``predict``.  Target: the library's peak well below the old one.

Runs are interleaved (``--repeats`` of (a), a third of them of (b)); the
CPU time of the process (all threads) is the steadier figure on a shared
machine; the wall-clock median is printed beside it.

Run with ``python benchmarks/bench_multiview.py`` (about a minute on 2 cores;
(c) holds about 5 GB for a moment in its old-path subprocess: ``--clips 0``
skips it).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
from skorch import NeuralNetClassifier
from torch import nn
from torchvision.transforms import v2

from skcells.multiview import MultiViewClassifier, RandomResizedCropViews


class SmallCNN(nn.Module):
    """Three 3x3 conv blocks (16, 32, 64 channels) and a linear head."""

    def __init__(self, n_classes=2):
        super().__init__()
        layers, channels = [], 3
        for width in (16, 32, 64):
            layers += [
                nn.Conv2d(channels, width, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, n_classes)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3)))


def _whole_frame_cut(self, X, sample_index, boxes, starts):
    """The previous ``_Geometry.cut`` of images and clips (for (c) only).

    Every view's frames are gathered whole and converted to float32 before
    ``roi_align`` crops them.
    """
    from torchvision.ops import roi_align

    if self.kind == "flat":
        return _OLD_CUT(self, X, sample_index, boxes, starts)
    k = sample_index.shape[0]
    if self.kind == "image":
        uniq, batch_index = np.unique(sample_index, return_inverse=True)
        frames = X[uniq]
    else:
        _, _, n_channels, height, width = X.shape
        frames = X[sample_index[:, None], starts[:, None] + np.arange(self.clip_length)]
        frames = frames.reshape(k, self.clip_length * n_channels, height, width)
        batch_index = np.arange(k)
    if frames.dtype == np.uint8:
        src = np.multiply(frames, np.float32(1.0 / 255.0), dtype=np.float32)
    else:
        src = frames.astype(np.float32)
    rois = np.concatenate([batch_index[:, None].astype(np.float64), boxes], axis=1)
    out = roi_align(
        torch.from_numpy(src),
        torch.from_numpy(rois.astype(np.float32)),
        output_size=self.output_size,
        spatial_scale=1.0,
        sampling_ratio=-1,
        aligned=True,
    )
    return out.numpy().reshape(k, *self.view_shape)


_OLD_CUT = None


def memory_run(path, n_clips):
    """(c), in a subprocess: peak RSS increase of one predict; prints JSON."""
    global _OLD_CUT
    from skcells.multiview import _geometry

    if path == "old":
        _OLD_CUT = _geometry._Geometry.cut
        _geometry._Geometry.cut = _whole_frame_cut
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (n_clips, 9, 3, 128, 128), dtype=np.uint8)
    y = np.arange(n_clips) % 2
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        nn.Sequential(nn.Flatten(), nn.Linear(9 * 3 * 16 * 16, 2)),
        criterion=nn.CrossEntropyLoss,
        max_epochs=1,
        batch_size=64,
        train_split=None,
        verbose=0,
    )
    clf = MultiViewClassifier(
        net, n_views=10, output_size=16, clip_length=9, random_state=0
    ).fit(X[:8], y[:8])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.process_time()
    proba = clf.predict_proba(X)
    cpu = time.process_time() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "increase_mb": (peak - before) / 1024,
                "cpu_s": cpu,
                "proba": proba[:, 0].tolist(),
            }
        )
    )


def memory_comparison(n_clips):
    """(c): run both paths in fresh subprocesses and print them side by side."""
    results = {}
    for path in ("ours", "old"):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-run", path, "--clips", str(n_clips)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        results[path] = json.loads(out.strip().splitlines()[-1])
    ours, old = results["ours"], results["old"]
    frames_gb = n_clips * 10 * 9 * 3 * 128 * 128 * 4 / 1e9
    print(
        f"\n(c) peak memory of predict(batch_size=None), {n_clips} uint8 clips "
        f"9x3x128x128, 10 views of 9x3x16x16 (whole float frame windows of all "
        f"views: {frames_gb:.2f} GB)"
    )
    print(f"{'':<46}{'peak RSS increase':>20}{'CPU s':>8}")
    print(
        f"{'cut, then convert (the library)':<46}{ours['increase_mb']:>17.0f} MB"
        f"{ours['cpu_s']:>8.2f}"
    )
    print(
        f"{'whole-frame conversion (previous)':<46}{old['increase_mb']:>17.0f} MB"
        f"{old['cpu_s']:>8.2f}"
    )
    diff = np.max(np.abs(np.subtract(ours["proba"], old["proba"])))
    print(
        f"[memory] old / ours = "
        f"{old['increase_mb'] / max(ours['increase_mb'], 1):.1f}x; "
        f"CPU old / ours = {old['cpu_s'] / ours['cpu_s']:.2f}x; "
        f"largest difference of predict_proba = {diff:.1e}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=64)
    parser.add_argument("--n-views", type=int, default=10)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--output-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--memory-run", choices=("ours", "old"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_run:
        memory_run(args.memory_run, args.clips)
        return

    rng = np.random.default_rng(0)
    n, m, size, out = args.n_samples, args.n_views, args.image_size, args.output_size
    X = rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8)
    y = rng.integers(0, 2, n)
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        SmallCNN,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        max_epochs=1,
        batch_size=128,
        train_split=None,
        verbose=0,
    )
    scale, ratio = (0.1, 0.2), (3 / 4, 4 / 3)
    clf = MultiViewClassifier(
        net, n_views=m, crop_scale=scale, output_size=out, random_state=0
    ).fit(X, y)
    fitted = clf.estimator_

    # (a) the bare net on the n * m views cut beforehand (the same views)
    precut = RandomResizedCropViews(
        n_views=m, crop_scale=scale, output_size=out, random_state=0
    ).transform(X)
    precut = torch.from_numpy(precut.reshape(n * m, 3, out, out))

    # (b) per-view loop with torchvision's RandomResizedCrop, sample by sample
    crop = v2.RandomResizedCrop(out, scale=scale, ratio=ratio, antialias=True)
    images = torch.from_numpy(X)

    def loop_predict():
        pred = np.empty(n, dtype=clf.classes_.dtype)
        for i in range(n):
            views = torch.stack([crop(images[i]) for _ in range(m)])
            proba = fitted.predict_proba(views.to(torch.float32).div_(255))
            votes = np.bincount(proba.argmax(axis=1), minlength=len(clf.classes_))
            pred[i] = clf.classes_[votes.argmax()]
        return pred

    cutter = RandomResizedCropViews(
        n_views=m, crop_scale=scale, output_size=out, random_state=0
    )
    funcs = {
        "multiview": lambda: clf.predict(X),
        "bare": lambda: fitted.predict_proba(precut),
        "crops": lambda: cutter.transform(X),
        "loop": loop_predict,
    }
    for func in funcs.values():  # warm-up
        func()
    # (a) compares two close timings: interleave many short runs; the slow
    # loop of (b) needs fewer.
    wall = {name: [] for name in funcs}
    cpu = {name: [] for name in funcs}
    for i in range(args.repeats):
        for name, func in funcs.items():
            if name == "loop" and i >= max(3, args.repeats // 3):
                continue
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            func()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start_wall)
    stats = {
        "CPU median": {k: statistics.median(v) for k, v in cpu.items()},
        "CPU min": {k: min(v) for k, v in cpu.items()},
        "wall median": {k: statistics.median(v) for k, v in wall.items()},
    }

    print(
        f"data: {n} images 3x{size}x{size} uint8, m={m} views of 3x{out}x{out}, "
        f"crop_scale={scale}; torch threads={torch.get_num_threads()}; load "
        f"average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    header = "".join(f"{stat:>13}" for stat in stats)
    print(f"{'seconds':<52}{'runs':>5}{header}")
    rows = [
        ("MultiViewClassifier.predict (batched crops + mode)", "multiview"),
        ("bare net.predict_proba on the pre-cut n*m views", "bare"),
        ("  the n*m crops alone (RandomResizedCropViews)", "crops"),
        ("per-view loop, torchvision RandomResizedCrop", "loop"),
    ]
    for label, name in rows:
        values = "".join(f"{t[name]:>13.4f}" for t in stats.values())
        print(f"{label:<52}{len(wall[name]):>5}{values}")
    for stat, t in stats.items():
        print(
            f"[{stat}] (a) MultiViewClassifier.predict / bare predict_proba = "
            f"{t['multiview'] / t['bare']:.3f}x (target <= 1.10x); "
            f"(b) loop / MultiViewClassifier.predict = "
            f"{t['loop'] / t['multiview']:.2f}x (target >= 3x); "
            f"crops / bare = {t['crops'] / t['bare']:.3f}"
        )
    if args.clips:
        memory_comparison(args.clips)


if __name__ == "__main__":
    main()
