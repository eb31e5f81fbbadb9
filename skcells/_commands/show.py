"""``skcells show``: sample frames per condition (paper Fig. 1 b-d) and a GIF.

Videos are rendered on demand (nothing is cached): the first video of each
condition gives one frame of the PNG grid, and one whole video becomes an
animated GIF.  The written paths are printed on standard output.
"""

from pathlib import Path

from .generate import add_generation_arguments, generation_kwargs


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
        "--fps", type=float, default=10.0, help="GIF frames per second (default: 10)"
    )
    add_generation_arguments(parser)


def run(args):
    """Write ``conditions.png`` and ``video_<index>.gif`` into ``--out``."""
    import numpy as np

    from ..datasets import SyntheticBloodVideos, plot_sample_frames, save_video_gif
    from ..utils import check_int, check_real

    kwargs = generation_kwargs(args)
    dataset = SyntheticBloodVideos(**kwargs)
    meta = dataset.metadata
    # checked before anything is written, so no half set of files is left
    check_int(args.frame, "frame", low=0, high=dataset.n_frames - 1)
    check_real(args.fps, "fps", low=0, low_open=True)
    if args.index is not None:
        check_int(args.index, "index", low=0, high=len(dataset) - 1)
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
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    png = out / "conditions.png"
    fig.savefig(png, dpi=120)

    index = args.index
    if index is None:
        index = firsts[0] if (meta.condition == "clear").any() else 0
    gif = save_video_gif(dataset[index][0], out / f"video_{index}.gif", fps=args.fps)
    print(png)
    print(gif)
    return 0
