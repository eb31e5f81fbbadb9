"""Benchmark: the library's training epoch vs the bare network on pre-cut tensors.

``skcells reproduce`` trains every network through the library: a
:class:`~skcells.multiview.MultiViewClassifier` cuts a fresh random view of
every sample at every access (the views' torch dataset), and a skorch net
built by :func:`skcells.experiments.make_net` runs the epoch (internal
validation split, best-validation-loss checkpoint, history).  This script
times, side by side in one process, for the two networks of the quick
scale's first series:

- the 9-layer CNN on single frames (views ``3 x 32 x 32``);
- X3D-XS on 9-frame clips (views ``9 x 3 x 32 x 32``);

(a) one epoch through the library, built as ``skcells reproduce`` builds
    it (the quick scale's run spec, ``make_net`` and
    ``MultiViewClassifier``, the threads of one ``reproduce`` worker);
(b) the bare epoch of the same module: the same number of training batches
    of the same shape (forward, loss, backward, Adam step) and the same
    validation forward passes, on tensors cut beforehand.

(a) and (b) alternate for several rounds (epochs 2 and later of each fit;
the first epoch warms the kernels up and is left out), so that both see the
same load on a shared machine; the ratio is the median over the rounds of
(a) / (b) in CPU time per epoch.  Target: <= 1.15 for both networks.

The script also counts the floating-point operations of one epoch with
:class:`torch.utils.flop_counter.FlopCounterMode` (convolutions and matrix
products, forward and backward) and prints the achieved GFLOP/s per CPU
second beside this machine's SGEMM rate, a 2048 x 2048 :func:`torch.mm` at
the same number of threads (the best of five).

Run: ``python benchmarks/bench_training.py [--rounds 5] [--epochs 3]
[--threads 1] [--contiguous]`` (about 3 minutes on 2 cores; the quick-scale
videos are rendered into the data home on the first run).
"""

import argparse
import dataclasses
import os
import statistics
import time

import numpy as np
import torch
from skorch.callbacks import Callback
from torch.utils.flop_counter import FlopCounterMode

from skcells.experiments import get_scale, load_video_inputs, split_test
from skcells.experiments._series import _classifier  # what run_one trains
from skcells.models import make_model
from skcells.multiview import RandomResizedCropViews


class EpochClock(Callback):
    """Record the CPU and wall time of every epoch."""

    def initialize(self):
        self.cpu_, self.wall_ = [], []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self._cpu, self._wall = time.process_time(), time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        self.cpu_.append(time.process_time() - self._cpu)
        self.wall_.append(time.perf_counter() - self._wall)


def quick_spec(model):
    """The quick scale's series-1 run spec of ``model`` (seed 42)."""
    spec = next(
        s for s in get_scale("quick").specs if s.series == 1 and s.model == model
    )
    return spec.with_seed(42)


def library_epochs(spec, X, y, epochs, channels_last):
    """CPU and wall seconds of every epoch of the library's fit (as reproduce)."""
    clf = _classifier(dataclasses.replace(spec, epochs=epochs), n_classes=2)
    if not channels_last:
        clf.estimator.set_params(callbacks__channels_last=None)
    clf.estimator.callbacks.append(("epoch_clock", EpochClock()))
    torch.manual_seed(spec.seed)
    clf.fit(X, y)
    clock = dict(clf.estimator_.callbacks_)["epoch_clock"]
    return clock.cpu_, clock.wall_, clf.estimator_.module_


def precut(spec, X, n):
    """``n`` training views of ``X``, as one float32 tensor."""
    views = RandomResizedCropViews(
        1,
        crop_scale=spec.crop_scale,
        output_size=spec.output_size,
        clip_length=spec.clip_length if spec.input == "clip" else None,
        random_state=0,
    )
    return torch.as_tensor(views.transform(X[:n])[:, 0])


def bare_epochs(spec, module, Xtr, ytr, Xva, yva, epochs):
    """CPU and wall seconds of every bare epoch (same batches as skorch's)."""
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss()
    bs = spec.batch_size
    n_train = Xtr.shape[0] // bs * bs  # drop_last, as make_net's iterator
    cpu, wall = [], []
    for _ in range(epochs):
        c, w = time.process_time(), time.perf_counter()
        module.train()
        order = torch.randperm(Xtr.shape[0])
        for lo in range(0, n_train, bs):
            idx = order[lo : lo + bs]
            optimizer.zero_grad()
            loss = criterion(module(Xtr[idx]), ytr[idx])
            loss.backward()
            optimizer.step()
        module.eval()
        with torch.no_grad():
            for lo in range(0, Xva.shape[0], bs):
                criterion(module(Xva[lo : lo + bs]), yva[lo : lo + bs])
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return cpu, wall


def epoch_flops(module, Xtr, ytr, Xva, batch_size):
    """FLOPs of one epoch: training steps (forward + backward) and validation."""
    criterion = torch.nn.CrossEntropyLoss()
    module.train()
    with FlopCounterMode(display=False) as counter:
        criterion(module(Xtr[:batch_size]), ytr[:batch_size]).backward()
    step = counter.get_total_flops()
    module.zero_grad()
    module.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(Xva[:batch_size])
    forward = counter.get_total_flops()
    n_steps = Xtr.shape[0] // batch_size
    return step * n_steps + forward * Xva.shape[0] / batch_size


def sgemm_peak(n=2048, repeats=5):
    """GFLOP/s per CPU second of an n x n float32 matrix product (best run)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        torch.mm(a, b)
        best = min(best, time.process_time() - t)
    return 2 * n**3 / best / 1e9


def bench(model, inputs, epochs, rounds, channels_last):
    """Print (a) and (b) for ``model``; return the ratio and the GFLOP/s of (b)."""
    spec = quick_spec(model)
    X, y, _ = inputs[spec.input]
    train, _ = split_test(y, random_state=spec.seed)
    X, y = np.asarray(X[train]), y[train]
    # the same shapes as skorch's epoch: 75 % training, 25 % validation
    n_valid = round(0.25 * X.shape[0])
    n_train = X.shape[0] - n_valid
    views = precut(spec, X, X.shape[0])
    Xtr, Xva = views[:n_train], views[n_train:]
    ytr = torch.as_tensor(y[:n_train], dtype=torch.int64)
    yva = torch.as_tensor(y[n_train:], dtype=torch.int64)

    times = {"a": ([], []), "b": ([], [])}
    paired = []  # (a) / (b) of each round: both measured within seconds
    for _ in range(rounds):  # alternate (a) and (b): both see the same load
        cpu, wall, module = library_epochs(spec, X, y, epochs, channels_last)
        times["a"][0].extend(cpu[1:])
        times["a"][1].extend(wall[1:])
        bare = make_model(model, n_classes=2, **dict(spec.model_params))
        bare.load_state_dict(module.state_dict())
        _match_layout(bare, module)  # the library's layout after fit
        bare_cpu, bare_wall = bare_epochs(spec, bare, Xtr, ytr, Xva, yva, epochs)
        times["b"][0].extend(bare_cpu[1:])
        times["b"][1].extend(bare_wall[1:])
        paired.append(statistics.mean(cpu[1:]) / statistics.mean(bare_cpu[1:]))
    flops = epoch_flops(bare, Xtr, ytr, Xva, spec.batch_size)

    best = {k: min(cpu) for k, (cpu, _) in times.items()}
    median = {k: statistics.median(cpu) for k, (cpu, _) in times.items()}
    wall = {k: statistics.median(w) for k, (_, w) in times.items()}
    shape = "x".join(map(str, spec.input_shape))
    print(
        f"{model} on {spec.input}s [{shape}], batch {spec.batch_size}: "
        f"{n_train // spec.batch_size} training batches + {n_valid} validation "
        f"views per epoch; {rounds} rounds of (a) then (b), epochs 2-{epochs} each"
    )
    head = f"{'':34s}{'best CPU s':>11s}{'median CPU s':>14s}{'median wall s':>15s}"
    print(f"  {head}")
    for key, label in (
        ("a", "(a) library (views, skorch)"),
        ("b", "(b) bare module, pre-cut tensors"),
    ):
        print(f"  {label:34s}{best[key]:11.3f}{median[key]:14.3f}{wall[key]:15.3f}")
    ratio = statistics.median(paired)
    print(
        f"  ratio (a) / (b): {ratio:.2f}x CPU, median of the rounds' ratios "
        f"({', '.join(f'{r:.2f}' for r in paired)})   (target <= 1.15x)"
    )
    print(
        f"  other estimates: {best['a'] / best['b']:.2f}x best CPU, "
        f"{median['a'] / median['b']:.2f}x median CPU, "
        f"{wall['a'] / wall['b']:.2f}x median wall"
    )
    gflops = flops / 1e9
    print(
        f"  {gflops:.2f} GFLOP per epoch (FlopCounterMode) -> "
        f"{gflops / best['b']:.1f} GFLOP/s bare, {gflops / best['a']:.1f} GFLOP/s "
        "library, per CPU second"
    )
    return ratio, gflops / best["b"]


def _match_layout(bare, module):
    """Give ``bare``'s parameters the memory layout of ``module``'s."""
    for p, q in zip(bare.parameters(), module.parameters(), strict=True):
        if q.dim() in (4, 5) and q.stride() != p.stride():
            fmt = torch.channels_last if q.dim() == 4 else torch.channels_last_3d
            p.data = p.data.contiguous(memory_format=fmt)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fit (>= 2)")
    parser.add_argument("--rounds", type=int, default=5, help="fits of (a) and (b)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (reproduce: 1)"
    )
    parser.add_argument("--data-home", default=None, help="cache of the videos")
    parser.add_argument(
        "--contiguous",
        action="store_true",
        help="keep the weights contiguous (reproduce stores them channels-last)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    quick = get_scale("quick")
    print(
        f"cores: {os.cpu_count()}, torch threads: {torch.get_num_threads()}, "
        f"torch {torch.__version__}, load average: "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    peak = sgemm_peak()
    print(
        f"SGEMM rate (2048 x 2048 torch.mm, {args.threads} thread(s), per CPU "
        f"second): {peak:.1f} GFLOP/s"
    )
    inputs, _ = load_video_inputs(
        "wbc",
        n_videos=quick.n_videos,
        n_frames=quick.n_frames,
        size=quick.size,
        random_state=0,
        data_home=args.data_home,
        verbose=False,
    )
    start = time.process_time()
    ratios, rates = {}, {}
    for model in ("cnn9", "x3d_xs"):
        ratios[model], rates[model] = bench(
            model, inputs, max(2, args.epochs), args.rounds, not args.contiguous
        )
    # the best SGEMM rate of the run, at its start and at its end
    peak = max(peak, sgemm_peak())
    print(
        f"SGEMM rate at the end: best of the run {peak:.1f} GFLOP/s; training "
        "steps (bare) at "
        + ", ".join(f"{m} {rates[m] / peak:.0%}" for m in rates)
        + " of it"
    )
    print(
        "ratios: "
        + ", ".join(f"{m} {r:.2f}x" for m, r in ratios.items())
        + f"; CPU time of the benchmark {time.process_time() - start:.0f} s; "
        f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
