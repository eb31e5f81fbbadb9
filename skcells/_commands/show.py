"""``skcells show``: sample frames per condition (paper Fig. 1 b-d) and a GIF.

Videos are rendered on demand (nothing is cached): the first video of each
condition gives one frame of the PNG grid, and one whole video becomes an
animated GIF.  The written paths are printed on standard output.
"""

import os
from pathlib import Path

from .generate import add_generation_arguments, generation_kwargs

# A GIF stores each frame's duration in whole hundredths of a second, in 16
# bits: 100 frames per second at most, one per 655.35 s at least.
_FPS_RANGE = (0.01, 100.0)


def add_arguments(parser):
    """Add the ``show`` options to ``parser``."""
    parser.add_argument(
        "--out", default="skcells-show", help="output folder (default: skcells-show)"
    )
    parser.add_argument(
        "--index",
        type=int,
        default=None,
        help="video shown as a GIF (default: the first clear video)",
    )
    parser.add_argument(
        "--frame", type=int, default=0, help="frame of the PNG grid (default: 0)"
    )
    parser.add_argument(
        "--fps",
        type=float,
        default=10.0,
        help="GIF frames per second, 0.01 to 100 (default: 10)",
    )
    add_generation_arguments(parser)


def run(args):
    """Write ``conditions.png`` and ``video_<index>.gif`` into ``--out``.

    Every argument is checked and both images are made before anything is
    written; each file appears whole (written under a temporary name and
    renamed), and neither does when making the other fails.
    """
    import numpy as np

    from ..datasets import SyntheticBloodVideos, plot_sample_frames, save_video_gif
    from ..utils import atomic_file, check_int, check_real

    kwargs = generation_kwargs(args)
    dataset = SyntheticBloodVideos(**kwargs)
    meta = dataset.metadata
    # checked before anything is written, so no half set of files is left
    check_int(args.frame, "frame", low=0, high=dataset.n_frames - 1)
    check_real(args.fps, "fps", low=_FPS_RANGE[0], high=_FPS_RANGE[1])
    if args.index is not None:
        check_int(args.index, "index", low=0, high=len(dataset) - 1)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {os.fspath(out)!r} exists and is not a folder.")
    # the first video of each condition present, in the conditions' order
    firsts = [
        int(np.flatnonzero(meta.condition == c)[0])
        for c in meta.condition.cat.categories
        if (meta.condition == c).any()
    ]
    frames = SyntheticBloodVideos(**kwargs, frames=args.frame)
    images = np.stack([frames[i][0] for i in firsts])
    fig = plot_sample_frames(
        images,
        meta.condition.to_numpy()[firsts].astype(str),
        blur=meta.blur.to_numpy()[firsts],
        noise=meta.noise.to_numpy()[firsts],
    )
    index = args.index
    if index is None:
        index = firsts[0] if (meta.condition == "clear").any() else 0
    video = dataset[index][0]

    out.mkdir(parents=True, exist_ok=True)
    png, gif = out / "conditions.png", out / f"video_{index}.gif"
    with atomic_file(png) as png_tmp, atomic_file(gif) as gif_tmp:
        save_video_gif(video, gif_tmp, fps=args.fps)
        fig.savefig(png_tmp, dpi=120)
    print(png)
    print(gif)
    return 0
