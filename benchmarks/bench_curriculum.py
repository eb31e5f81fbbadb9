"""Benchmark the cost of CurriculumNeuralNetClassifier's curriculum.

Three comparisons, measured side by side in one run on the same module, data
and seed (runs interleaved, medians over repeats):

1. per-epoch time of a curriculum net at competence 1 vs a plain
   ``skorch.NeuralNetClassifier`` (target: overhead <= 5 %);
2. per-epoch time at competence 0.25 vs a full epoch (target: <= 0.35x);
3. plain skorch vs a hand-written PyTorch training loop (target: <= 1.05x).

All nets use ``train_split=None`` so that an epoch is the training pass only
(the curriculum never changes validation).  Wall-clock and process CPU
time are both reported: on a shared machine the CPU time of this
single-threaded process is the steadier of the two.  Timing covers ``partial_fit``
calls of ``--epochs`` epochs on an initialised net (and the same number of
epochs of the hand-written loop), divided by the number of epochs.

Run with ``python benchmarks/bench_curriculum.py [--repeats 7] [--epochs 3]``.
"""

import argparse
import statistics
import time

import numpy as np
import torch
from skorch import NeuralNetClassifier
from torch.utils.data import DataLoader, TensorDataset

from skcells.curriculum import CurriculumNeuralNetClassifier


class SmallCNN(torch.nn.Module):
    """A small CNN on 3x32x32 images returning class probabilities."""

    def __init__(self, width=16, n_classes=2):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, width, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(width, 2 * width, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
        )
        self.head = torch.nn.Linear(2 * width * 8 * 8, n_classes)

    def forward(self, X):
        return torch.softmax(self.head(self.features(X).flatten(1)), dim=-1)


def make_data(n_samples, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 3, 32, 32)).astype(np.float32)
    y = (X[:, 0, :16].mean(axis=(1, 2)) > 0).astype(np.int64)
    difficulty = rng.random(n_samples)
    return X, y, difficulty


def net_kwargs(batch_size, lr):
    return dict(
        module=SmallCNN,
        optimizer=torch.optim.SGD,
        lr=lr,
        batch_size=batch_size,
        max_epochs=1,
        train_split=None,
        verbose=0,
    )


class HandLoop:
    """The same training step as skorch's, written as a plain PyTorch loop."""

    def __init__(self, X, y, batch_size, lr, seed):
        torch.manual_seed(seed)
        self.module = SmallCNN()
        self.optimizer = torch.optim.SGD(self.module.parameters(), lr=lr)
        self.loader = DataLoader(
            TensorDataset(torch.from_numpy(X), torch.from_numpy(y)),
            batch_size=batch_size,
        )
        self.eps = torch.finfo(torch.float32).eps

    def run(self, epochs):
        self.module.train()
        for _ in range(epochs):
            losses = []
            for Xb, yb in self.loader:
                self.optimizer.zero_grad()
                y_pred = self.module(Xb)
                loss = torch.nn.functional.nll_loss(torch.log(y_pred + self.eps), yb)
                loss.backward()
                self.optimizer.step()
                losses.append(loss.item())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per timed run")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    lr = 0.01

    X, y, d = make_data(args.n_samples, args.seed)
    kwargs = net_kwargs(args.batch_size, lr)

    def build(cls, **extra):
        torch.manual_seed(args.seed)
        return cls(**kwargs, **extra).initialize()

    plain = build(NeuralNetClassifier)
    full = build(CurriculumNeuralNetClassifier, initial_competence=1.0)
    # A curriculum that stays at c = 0.25 (T far away, linear schedule).
    quarter = build(
        CurriculumNeuralNetClassifier,
        initial_competence=0.25,
        curriculum_epochs=1e12,
        competence_power=1,
    )
    hand = HandLoop(X, y, args.batch_size, lr, args.seed)

    runs = {
        "plain skorch": lambda: plain.partial_fit(X, y),
        "curriculum c=1": lambda: full.partial_fit(X, y, difficulty=d),
        "curriculum c=0.25": lambda: quarter.partial_fit(X, y, difficulty=d),
        "hand-written loop": lambda: hand.run(args.epochs),
    }
    for net in (plain, full, quarter):
        net.set_params(max_epochs=args.epochs)

    for run in runs.values():  # warm-up
        run()
    wall = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():  # interleaved, so drift hits all alike
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall[name].append((time.perf_counter() - start_wall) / args.epochs)
            cpu[name].append((time.process_time() - start_cpu) / args.epochs)

    n_quarter = quarter.history[-1, "n_curriculum_samples"]
    print(
        f"bench_curriculum: {args.n_samples} samples 3x32x32, batch {args.batch_size},"
        f" {args.epochs} epochs x {args.repeats} repeats, {args.threads} thread(s),"
        f" torch {torch.__version__}"
    )
    print(f"c=0.25 trains on {n_quarter} of {args.n_samples} samples per epoch")
    med_wall = {name: statistics.median(ts) for name, ts in wall.items()}
    med_cpu = {name: statistics.median(ts) for name, ts in cpu.items()}
    print(f"  {'median per epoch':<30} {'wall ms':>9} {'cpu ms':>9}")
    for name in runs:
        print(f"  {name:<30} {1e3 * med_wall[name]:9.1f} {1e3 * med_cpu[name]:9.1f}")
    checks = [
        ("curriculum c=1 / plain skorch", "curriculum c=1", "plain skorch", 1.05),
        ("c=0.25 / c=1 epoch", "curriculum c=0.25", "curriculum c=1", 0.35),
        ("plain skorch / hand loop", "plain skorch", "hand-written loop", 1.05),
    ]
    print(f"  {'ratio':<30} {'wall':>9} {'cpu':>9}  target (judged on cpu)")
    for label, num, den, target in checks:
        ratios = (med_wall[num] / med_wall[den], med_cpu[num] / med_cpu[den])
        verdict = "ok" if ratios[1] <= target else "ABOVE TARGET"
        print(
            f"  {label:<30} {ratios[0]:8.3f}x {ratios[1]:8.3f}x  <= {target}x "
            f"({verdict})"
        )


if __name__ == "__main__":
    main()
