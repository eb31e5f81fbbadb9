"""Benchmark: vectorised video rendering vs a naive per-cell drawing loop.

Part 1 renders the same videos (the first ``--videos`` of the paper-size
dataset, with their own counts, blur and noise, cut to ``--frames`` frames)
with :func:`skcells.datasets.render_video` and with a naive renderer written
below that draws every cell of every frame in Python loops.  Both use the
same trajectories, sprites, noise streams and degradation code, so they give
the same videos (the difference is printed); only the drawing differs.

Part 2 fetches ``--fetch-videos`` paper-size videos (100 frames, 128 x 128)
into a fresh cache with ``--n-jobs`` processes in a child process, and
reports the throughput, the projected time for the full 1150-video set and
the peak resident memory of the parent and of the workers.

Run: ``python benchmarks/bench_generate.py`` (about 2 minutes on 2 cores).
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

PAPER_VIDEOS, PAPER_FRAMES, PAPER_SIZE = 1150, 100, 128


def naive_render(config, index, meta, frames):
    """Render item ``index`` drawing each cell of each frame in Python loops."""
    from skcells.datasets._degrade import degrade
    from skcells.datasets._render import (
        FRAME_BLOCK,
        _all_positions,
        _child,
        _illumination,
        sprite_profiles,
    )

    params = config.render
    size = params["size"]
    seed = config._seed(index, 1)
    rbc, wbc = int(meta["rbc_count"][0]), int(meta["wbc_count"][0])
    blur, noise = int(meta["blur"][0]), float(meta["noise"][0])
    positions, cell_type = _all_positions(rbc, wbc, frames, size, params["step"], seed)
    light = _illumination(params, _child(seed, 2))
    noise_seed = _child(seed, 3)

    # one absorbance patch per cell type, cut out of the periodic sprite
    p_rbc, p_cyto, p_nuc = sprite_profiles(
        size, params["rbc_radius"], params["wbc_radius"], params["nucleus_ratio"]
    )
    a = {k: np.array(params[k])[:, None, None] for k in params if "absorbance" in k}
    sprites = [
        a["rbc_absorbance"] * p_rbc,
        a["wbc_absorbance"] * p_cyto + a["nucleus_absorbance"] * p_nuc,
    ]
    patches, offsets = [], []
    for radius, sprite in zip((params["rbc_radius"], params["wbc_radius"]), sprites):
        half = math.ceil(radius * size) + 2
        off = np.arange(-half, half + 1)
        patches.append(sprite[:, off % size][:, :, off % size])
        offsets.append(off)

    video = np.empty((frames, 3, size, size), dtype=np.uint8)
    for t0 in range(0, frames, FRAME_BLOCK):
        t1 = min(t0 + FRAME_BLOCK, frames)
        od = np.zeros((t1 - t0, 3, size, size))
        for t in range(t0, t1):
            for j in range(positions.shape[1]):
                y, x = positions[t, j]
                y0, x0 = math.floor(y), math.floor(x)
                fy, fx = y - y0, x - x0
                patch, off = patches[cell_type[j]], offsets[cell_type[j]]
                for dy, dx, w in (
                    (0, 0, (1 - fy) * (1 - fx)),
                    (0, 1, (1 - fy) * fx),
                    (1, 0, fy * (1 - fx)),
                    (1, 1, fy * fx),
                ):
                    rows = (y0 + dy + off) % size
                    cols = (x0 + dx + off) % size
                    od[t - t0][:, rows[:, None], cols] += w * patch
        clean = (np.exp(-od) * light[None, :, None, None]).astype(np.float32)
        rs = None
        if noise > 0:
            rs = np.random.default_rng(_child(noise_seed, t0 // FRAME_BLOCK))
        video[t0:t1] = degrade(
            clean[None],
            blur=blur,
            noise=noise,
            law=params["noise_law"],
            random_state=rs,
        )[0]
    return video


def drawing_only(config, index, meta, frames, naive):
    """Time only the cell drawing (no blur or noise) of one video."""
    if naive:
        clear = {**meta, "blur": np.array([0]), "noise": np.array([0.0])}
        start = time.perf_counter()
        naive_render(config, index, clear, frames)
        return time.perf_counter() - start
    from skcells.datasets._render import _render

    params = config.render
    seed = config._seed(index, 1)
    start = time.perf_counter()
    _render(
        int(meta["rbc_count"][0]),
        int(meta["wbc_count"][0]),
        0,
        0.0,
        frames,
        None,
        seed,
        params,
    )
    return time.perf_counter() - start


def side_by_side(n_videos, n_frames):
    """Part 1: vectorised vs naive on the same videos."""
    from skcells.datasets import SyntheticBloodVideos

    ds = SyntheticBloodVideos(PAPER_VIDEOS, n_frames=n_frames, size=PAPER_SIZE)
    config = ds._config
    metas = [config.item_metadata([i]) for i in range(n_videos)]
    config.render_item(0, metas[0])  # warm the sprite cache

    t = time.perf_counter()
    fast = [config.render_item(i, m) for i, m in enumerate(metas)]
    t_fast = time.perf_counter() - t
    t = time.perf_counter()
    slow = [naive_render(config, i, m, n_frames) for i, m in enumerate(metas)]
    t_slow = time.perf_counter() - t
    diff = max(np.abs(a.astype(int) - b).max() for a, b in zip(fast, slow))
    same = np.mean([np.mean(a == b) for a, b in zip(fast, slow)])

    d_fast = sum(
        drawing_only(config, i, m, n_frames, False) for i, m in enumerate(metas)
    )
    d_slow = sum(
        drawing_only(config, i, m, n_frames, True) for i, m in enumerate(metas)
    )

    scale = n_frames / PAPER_FRAMES  # express speeds in 100-frame videos
    print(
        f"Part 1: {n_videos} videos x {n_frames} frames x 3 x {PAPER_SIZE} x "
        f"{PAPER_SIZE} (paper counts, conditions "
        f"{[int(m['condition'][0]) for m in metas]}), same videos both ways"
    )
    print(
        f"  max |vectorised - naive| = {diff} grey level(s); "
        f"{same:.4%} of the bytes equal"
    )
    print(f"  {'':22s}{'seconds':>10s}{'100-frame videos/s':>22s}")
    for name, sec in (("vectorised", t_fast), ("naive per-cell loop", t_slow)):
        print(f"  {name:22s}{sec:10.3f}{n_videos * scale / sec:22.3f}")
    print(f"  speed-up (whole pipeline): {t_slow / t_fast:.1f}x   (target >= 30x)")
    print(
        f"  speed-up (cell drawing only, no blur/noise): {d_slow / d_fast:.1f}x "
        f"({d_fast:.3f} s vs {d_slow:.3f} s)"
    )
    return t_slow / t_fast


def stage_costs(repeat=15):
    """Part 1b: best-of-``repeat`` CPU time of each stage, a load-robust estimate."""
    import scipy.fft

    from skcells.datasets import GenerationParams
    from skcells.datasets import _render as R
    from skcells.datasets._degrade import _degrade

    def best(f):
        f()
        times = []
        for _ in range(repeat):
            t = time.process_time()
            f()
            times.append(time.process_time() - t)
        return min(times) * 1e3

    seed = np.random.SeedSequence(1)
    appearance = R._Appearance(
        PAPER_SIZE,
        0.025,
        0.035,
        0.5,
        GenerationParams.rbc_absorbance,
        GenerationParams.wbc_absorbance,
        GenerationParams.nucleus_absorbance,
    )
    kernels = R._sprite_kernels(appearance)
    positions, cell_type = R._all_positions(
        5000, 202, PAPER_FRAMES, PAPER_SIZE, 1.0, seed
    )
    block = positions[: R.FRAME_BLOCK]
    light = np.full(3, 240, np.float32)
    impulses = R._splat(block, cell_type, PAPER_SIZE)
    clean = R._clean_frames(block, cell_type, kernels, light, PAPER_SIZE)
    rs = np.random.default_rng(0)

    def fft_mix_exp():
        spec = scipy.fft.rfft2(impulses, workers=1)
        mixed = spec[0][:, None] * kernels[0] + spec[1][:, None] * kernels[1]
        return np.exp(-scipy.fft.irfft2(mixed, s=(PAPER_SIZE,) * 2, workers=1))

    def degrade(images, blur, noise, random_state=None):
        # the renderer's call (no checks); a copy, as the clean frames are reused
        return _degrade(
            images, np.array([blur]), np.array([noise]), "gaussian", random_state
        )

    cost = {
        "motion (per video)": best(
            lambda: R._all_positions(5000, 202, PAPER_FRAMES, PAPER_SIZE, 1.0, seed)
        ),
        "splat": best(lambda: R._splat(block, cell_type, PAPER_SIZE)),
        "FFT convolution + exp": best(fft_mix_exp),
        "degrade, clear": best(lambda: degrade(clean[None], blur=0, noise=0.0)),
        "degrade, blur b=5": best(lambda: degrade(clean[None], blur=5, noise=0.0)),
        "degrade, noise 0.1": best(
            lambda: degrade(clean[None], blur=0, noise=0.1, random_state=rs)
        ),
    }
    p_clear, p_blur, p_noisy, p_both = GenerationParams.condition_proba
    blocks = PAPER_FRAMES // R.FRAME_BLOCK
    draw = cost["motion (per video)"] + blocks * (
        cost["splat"] + cost["FFT convolution + exp"]
    )
    degr = blocks * (
        cost["degrade, clear"]
        + (p_blur + p_both) * (cost["degrade, blur b=5"] - cost["degrade, clear"])
        + (p_noisy + p_both) * (cost["degrade, noise 0.1"] - cost["degrade, clear"])
    )
    print(
        f"Part 1b: CPU time per stage, best of {repeat} (per block of "
        f"{R.FRAME_BLOCK} frames at {PAPER_SIZE} x {PAPER_SIZE} unless stated)"
    )
    for name, ms in cost.items():
        print(f"  {name:26s}{ms:8.2f} ms")
    per_video = draw + degr
    print(
        f"  average paper video: {per_video:.0f} ms (drawing {draw:.0f} ms, blur + "
        f"noise {degr:.0f} ms) -> full set on 2 idle cores ~ "
        f"{per_video * PAPER_VIDEOS / 2e3:.0f} s + sha256"
    )


def _proc_children():
    """Process ids of this process's children (Linux /proc)."""
    me, kids = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == me:
                kids.append(int(entry))
    return kids


def _proc_cpu(pid):
    """User + system CPU seconds of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_peak_rss(pid):
    """Peak resident set size in bytes (VmHWM, reset by exec, unlike ru_maxrss)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def fetch_child(n_videos, n_jobs, home):
    """Part 2, in a fresh process: fetch and report time, CPU and peak memory."""
    from joblib.externals.loky import get_reusable_executor

    from skcells.datasets import fetch_synthetic_blood_videos

    # start the workers (imports) first, so the timed run is steady-state
    t = time.perf_counter()
    fetch_synthetic_blood_videos(
        n_videos=2 * n_jobs, n_frames=2, size=16, data_home=home, n_jobs=n_jobs
    )
    startup = time.perf_counter() - t
    workers = _proc_children()
    cpu0 = {pid: _proc_cpu(pid) for pid in workers}
    self0 = _proc_cpu(os.getpid())
    t = time.perf_counter()
    bunch = fetch_synthetic_blood_videos(
        n_videos=n_videos,
        n_frames=PAPER_FRAMES,
        size=PAPER_SIZE,
        data_home=home,
        n_jobs=n_jobs,
        verbose=False,
    )
    elapsed = time.perf_counter() - t
    parent_cpu = _proc_cpu(os.getpid()) - self0
    worker_cpu = sum(_proc_cpu(pid) - cpu0[pid] for pid in workers)
    worker_rss = [_proc_peak_rss(pid) for pid in workers]
    t = time.perf_counter()
    fetch_synthetic_blood_videos(
        n_videos=n_videos,
        n_frames=PAPER_FRAMES,
        size=PAPER_SIZE,
        data_home=home,
        n_jobs=n_jobs,
    )
    reuse = time.perf_counter() - t
    nbytes = bunch.data.nbytes
    del bunch
    get_reusable_executor().shutdown(wait=True)
    print(
        json.dumps(
            {
                "startup_s": startup,
                "fetch_s": elapsed,
                "reuse_s": reuse,
                "bytes": nbytes,
                "parent_cpu_s": parent_cpu,
                "worker_cpu_s": worker_cpu,
                "parent_peak_rss": _proc_peak_rss(os.getpid()),
                "worker_peak_rss": worker_rss,
            }
        )
    )


def streaming_fetch(n_videos, n_jobs):
    """Part 2: run the fetch in a child process and report."""
    with tempfile.TemporaryDirectory() as home:
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--_fetch-child",
                str(n_videos),
                str(n_jobs),
                home,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    gib = 2**30
    scale = PAPER_VIDEOS / n_videos
    cores = min(2, os.cpu_count())
    # Wall time the same CPU work would take on `cores` idle cores: the
    # workers' share runs in parallel, the parent's (sha256) does not.
    idle = (r["worker_cpu_s"] / cores + r["parent_cpu_s"]) * scale
    if not r["worker_peak_rss"]:  # n_jobs=1: rendering ran in the parent
        idle = (r["parent_cpu_s"]) * scale
    worst_worker = max(r["worker_peak_rss"], default=0)
    total_rss = r["parent_peak_rss"] + sum(r["worker_peak_rss"])
    print(
        f"Part 2: fetch of {n_videos} paper-size videos ({r['bytes'] / gib:.2f} GiB) "
        f"into a fresh cache, n_jobs={n_jobs}, in a child process"
    )
    print(f"  worker start-up (once per process):   {r['startup_s']:.1f} s")
    print(
        f"  render + write + sha256 manifest:     {r['fetch_s']:.1f} s wall "
        f"({n_videos / r['fetch_s']:.2f} videos/s); CPU: workers "
        f"{r['worker_cpu_s']:.1f} s, parent {r['parent_cpu_s']:.1f} s"
    )
    print(f"  reuse (verify sha256 again, open):     {r['reuse_s']:.1f} s")
    print(
        f"  full set ({PAPER_VIDEOS} videos, "
        f"{PAPER_VIDEOS * r['bytes'] / n_videos / gib:.1f} GiB), projected: "
        f"{r['fetch_s'] * scale:.0f} s at this machine's current load; "
        f"{idle:.0f} s from CPU time on {cores} idle cores   (target <= 120 s)"
    )
    print(
        f"  peak RSS (VmHWM): parent {r['parent_peak_rss'] / gib:.2f} GiB, "
        f"largest worker {worst_worker / gib:.2f} GiB, sum of all "
        f"{1 + len(r['worker_peak_rss'])} processes {total_rss / gib:.2f} GiB   "
        "(target <= 2 GiB; streaming, so it does not grow with the number of videos)"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=3, help="videos in part 1")
    parser.add_argument("--frames", type=int, default=10, help="frames in part 1")
    parser.add_argument("--fetch-videos", type=int, default=115, help="part 2")
    parser.add_argument("--n-jobs", type=int, default=2, help="processes, part 2")
    parser.add_argument("--_fetch-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._fetch_child:
        n, jobs, home = args._fetch_child
        fetch_child(int(n), int(jobs), home)
        return
    print(
        f"cores: {os.cpu_count()}, load average: "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    side_by_side(args.videos, args.frames)
    stage_costs()
    if args.fetch_videos > 0:
        streaming_fetch(args.fetch_videos, args.n_jobs)


if __name__ == "__main__":
    main()
