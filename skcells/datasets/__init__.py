"""Datasets: synthetic blood-cell videos, real smears, your own videos, degradation."""

from ._base import clear_data_home, get_data_home
from ._bccd import fetch_bccd
from ._blur import estimate_blur
from ._degrade import add_noise, box_blur, degrade, scaled_blur_radius
from ._difficulty import difficulty_score, estimate_difficulty
from ._ideal import count_cells_in_windows, ideal_reader, true_cell_centres
from ._params import CONDITIONS, GENERATION_PRESETS, GenerationParams
from ._plot import plot_sample_frames, save_video_gif
from ._render import cell_positions, render_video, splat_cells, sprite_profiles
from ._summary import high_frequency_energy, summarize_conditions
from ._synthetic import fetch_synthetic_blood_videos
from ._videos import load_videos

__all__ = [
    "CONDITIONS",
    "GENERATION_PRESETS",
    "GenerationParams",
    "SyntheticBloodVideos",
    "add_noise",
    "box_blur",
    "cell_positions",
    "clear_data_home",
    "count_cells_in_windows",
    "degrade",
    "difficulty_score",
    "estimate_blur",
    "estimate_difficulty",
    "fetch_bccd",
    "fetch_synthetic_blood_videos",
    "get_data_home",
    "high_frequency_energy",
    "ideal_reader",
    "load_videos",
    "plot_sample_frames",
    "render_video",
    "save_video_gif",
    "scaled_blur_radius",
    "splat_cells",
    "sprite_profiles",
    "summarize_conditions",
    "true_cell_centres",
]


def __getattr__(name):
    # SyntheticBloodVideos imports torch: load it on first use only, so that
    # importing skcells.datasets (e.g. in the processes that render the
    # synthetic cache) stays light.
    if name == "SyntheticBloodVideos":
        from ._synthetic_dataset import SyntheticBloodVideos

        return SyntheticBloodVideos
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
