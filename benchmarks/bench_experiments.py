"""Benchmark of the experiment runner: parallel single-threaded runs vs threads.

``skcells reproduce`` trains many small networks (one per model, setting
and seed).  This script runs the same set of runs (the 9-layer CNN of the
quick scale on WBC frames, a few epochs, several seeds) twice, side by side
in one process:

(a) ``n_jobs=1``: one process whose torch uses every core (intra-op
    threads), the runs one after the other;
(b) ``n_jobs=<cores>``: one single-threaded worker process per core (the
    default of :func:`skcells.experiments.run_experiments`).

With ``--contended`` both are measured again while one busy-looping
process per core competes for the CPU, as on a shared machine, where the
threads of (a) wait on each other.  It prints the wall-clock times and the
ratios (a) / (b).  Targets: (b) within 10 % of (a) on an idle machine and
at least 1.5x faster under contention (measured on 2 cores: 1.03x idle,
1.96x contended).  The accuracies of (a) and (b) differ
slightly: floating-point sums depend on the number of threads.

Run with ``python benchmarks/bench_experiments.py [--contended]`` (one to
three minutes on 2 cores; the synthetic videos are cached in the data home
on the first run).
"""

import argparse
import dataclasses
import multiprocessing
import os
import time

from skcells.experiments import get_scale, run_experiments


def bench_scale(epochs, n_videos):
    """The quick scale reduced to its 9-layer CNN runs of series 1."""
    quick = get_scale("quick")
    specs = tuple(
        dataclasses.replace(s, epochs=epochs)
        for s in quick.specs
        if s.series == 1 and s.model == "cnn9"
    )
    return dataclasses.replace(
        quick, name="bench", n_videos=n_videos, specs=specs, series_seeds={}
    )


def _busy():
    while True:
        pass


def measure(scale, seeds, cores):
    """Wall-clock seconds and mean MVM accuracy of (a) and (b)."""
    out = {}
    for label, n_jobs in (("a", 1), ("b", cores)):
        start = time.perf_counter()
        res = run_experiments(
            series=[1], scale=scale, seeds=seeds, n_jobs=n_jobs, progress=False
        )
        seconds = time.perf_counter() - start
        table = res.results
        out[label] = (seconds, table.loc[table["variant"] == "MVM", "accuracy"].mean())
    return out


def report(title, out, cores):
    (ta, acc_a), (tb, acc_b) = out["a"], out["b"]
    print(title)
    print(f"  (a) n_jobs=1, {cores} torch threads:    {ta:7.1f} s  (MVM {acc_a:.1f} %)")
    print(
        f"  (b) n_jobs={cores}, 1 torch thread each: {tb:7.1f} s  (MVM {acc_b:.1f} %)"
    )
    print(f"  ratio (a) / (b): {ta / tb:.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--n-videos", type=int, default=400)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 0, 17, 9, 3, 1])
    parser.add_argument(
        "--contended", action="store_true", help="also measure on a busy CPU"
    )
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    scale = bench_scale(args.epochs, args.n_videos)
    # render (or reuse) the videos before timing anything
    run_experiments(series=[1], scale=scale, seeds=args.seeds[:1], progress=False)
    head = f"{len(args.seeds)} runs (9-layer CNN, {args.epochs} epochs, "
    head += f"{args.n_videos} videos), {cores} cores"
    report(f"{head}, idle:", measure(scale, args.seeds, cores), cores)
    if args.contended:
        hogs = [
            multiprocessing.Process(target=_busy, daemon=True) for _ in range(cores)
        ]
        for hog in hogs:
            hog.start()
        try:
            out = measure(scale, args.seeds, cores)
        finally:
            for hog in hogs:
                hog.terminate()
                hog.join()
        report(f"{head}, {cores} busy processes beside:", out, cores)


if __name__ == "__main__":
    main()
