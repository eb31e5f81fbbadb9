"""Benchmark: predict-time tuning without refitting vs GridSearchCV refitting.

The same candidates (``n_views`` x ``crop_scale`` x ``aggregation``), the same
model (the multi-view curriculum CNN of ``skcells tune``) and the same
train/validation split, measured side by side in one run:

(a) ``skcells.tuning.tune_predict_time``: fit the model once, then one Optuna
    trial per candidate (a ``GridSampler`` over the grid) scores a shallow
    copy of the fitted model on the validation frames;
(b) ``GridSearchCV`` over the same grid with one predefined split (train ->
    validation), ``refit=False``: every candidate trains the network again,
    although the candidates only differ in predict-time parameters.

Both report CPU time of the process (all threads; steadier on a shared
machine) and wall-clock time; the ratio (b)/(a) is the saving.

Run with ``python benchmarks/bench_tuning.py`` (smoke scale, 2 epochs,
about a minute of CPU on 2 cores); ``--epochs 10`` trains as long as the
quick recipe; ``--scale quick`` takes many minutes.
"""

import argparse
import logging
import time

import numpy as np
import optuna
import torch
from sklearn.model_selection import GridSearchCV, PredefinedSplit, train_test_split

from skcells.experiments import load_video_inputs
from skcells.tuning import (
    PredictTimeSpace,
    best_trial,
    tune_predict_time,
    tuning_model,
    tuning_recipe,
)

N_VIEWS = [1, 5, 10]
CROP_LOW = [0.1, 0.3]
CROP_HIGH = [0.3, 0.6]
AGGREGATION = ["mode", "weighted"]


class Clock:
    """CPU and wall-clock seconds of a block."""

    def __enter__(self):
        self._cpu, self._wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.cpu = time.process_time() - self._cpu
        self.wall = time.perf_counter() - self._wall
        return False


def load(recipe):
    """The recipe's single frames, split like ``skcells tune`` splits them."""
    d = recipe["data"]
    inputs, _ = load_video_inputs(
        d["target"],
        n_videos=d["n_videos"],
        n_frames=d["n_frames"],
        size=d["size"],
        random_state=recipe["seed"],
        verbose=False,
    )
    X, y, difficulty = inputs["frame"]
    return train_test_split(
        np.asarray(X),
        y,
        difficulty,
        test_size=recipe["validation_fraction"],
        stratify=y,
        random_state=recipe["seed"],
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("smoke", "quick"), default="smoke")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs (default: the recipe's, 2 at smoke scale); the "
        "saving grows with the cost of a fit (the paper trains 400 epochs)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(args.threads)

    recipe = tuning_recipe(args.scale, random_state=args.seed)
    if args.epochs is not None:
        recipe["net"]["max_epochs"] = args.epochs
        recipe["net"]["curriculum_epochs"] = max(1, args.epochs // 2)
    X_train, X_val, y_train, y_val, d_train, d_val = load(recipe)
    crop_pairs = [(lo, hi) for lo in CROP_LOW for hi in CROP_HIGH]
    n_candidates = len(N_VIEWS) * len(crop_pairs) * len(AGGREGATION)
    print(
        f"scale={args.scale}: {len(y_train)} training / {len(y_val)} validation "
        f"frames of {X_train.shape[1:]}, {recipe['net']['max_epochs']} epochs; "
        f"{n_candidates} candidates = n_views {N_VIEWS} x crop_scale {crop_pairs} "
        f"x aggregation {AGGREGATION}"
    )

    # (a) fit once, then one trial per candidate on the fitted model.
    torch.manual_seed(args.seed)
    with Clock() as fit_a:
        model = tuning_model(recipe).fit(X_train, y_train, difficulty=d_train)
    grid = {
        "n_views": N_VIEWS,
        "crop_scale_low": CROP_LOW,
        "crop_scale_high": CROP_HIGH,
        "aggregation": AGGREGATION,
    }
    space = PredictTimeSpace(
        n_views=(min(N_VIEWS), max(N_VIEWS)),
        crop_scale_low=(min(CROP_LOW), max(CROP_LOW)),
        crop_scale_high=(min(CROP_HIGH), max(CROP_HIGH)),
        aggregation=tuple(AGGREGATION),
    )
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.GridSampler(grid, seed=0)
    )
    with Clock() as trials_a:
        tune_predict_time(
            model,
            X_val,
            y_val,
            space=space,
            n_trials=n_candidates,
            study=study,
            scoring="accuracy",
            random_state=args.seed,
        )
    seen = {
        (t.params["n_views"], t.params["crop_scale_low"], t.params["crop_scale_high"])
        + (t.params["aggregation"],)
        for t in study.trials
    }
    assert len(seen) == n_candidates, "the grid sampler must visit every candidate"
    best_a = best_trial(study)

    # (b) GridSearchCV on the same split: every candidate refits the network.
    X_all = np.concatenate([X_train, X_val])
    y_all = np.concatenate([y_train, y_val])
    d_all = np.concatenate([d_train, d_val])
    split = PredefinedSplit(
        np.r_[np.full(len(y_train), -1), np.zeros(len(y_val))].astype(int)
    )
    search = GridSearchCV(
        tuning_model(recipe).set_params(random_state=args.seed),
        {
            "n_views": N_VIEWS,
            "crop_scale": crop_pairs,
            "aggregation": AGGREGATION,
        },
        cv=split,
        scoring="accuracy",
        refit=False,
        n_jobs=1,
        error_score="raise",
    )
    torch.manual_seed(args.seed)
    with Clock() as b:
        search.fit(X_all, y_all, difficulty=d_all)
    best_b = search.best_params_

    cpu_a, wall_a = fit_a.cpu + trials_a.cpu, fit_a.wall + trials_a.wall
    print(f"{'':44s} {'CPU s':>8s} {'wall s':>8s} {'fits':>5s}")
    print(f"{'(a) predict-time study, fit once':44s} {cpu_a:8.2f} {wall_a:8.2f} {1:5d}")
    print(
        f"{'      of which the fit':44s} {fit_a.cpu:8.2f} {fit_a.wall:8.2f}"
        f"\n{'      of which the ' + str(n_candidates) + ' trials':44s} "
        f"{trials_a.cpu:8.2f} {trials_a.wall:8.2f}"
    )
    print(
        f"{'(b) GridSearchCV, refit per candidate':44s} {b.cpu:8.2f} {b.wall:8.2f} "
        f"{n_candidates:5d}"
    )
    print(f"ratio (b)/(a): CPU {b.cpu / cpu_a:.1f}x, wall {b.wall / wall_a:.1f}x")
    params_a = PredictTimeSpace.to_estimator_params(best_a.params)
    print(
        f"best (a): accuracy {best_a.value:.3f} with n_views={params_a['n_views']}, "
        f"crop_scale={params_a['crop_scale']}, aggregation={params_a['aggregation']}"
    )
    print(
        f"best (b): accuracy {search.best_score_:.3f} with n_views="
        f"{best_b['n_views']}, crop_scale={best_b['crop_scale']}, "
        f"aggregation={best_b['aggregation']} (each candidate on its own refit)"
    )


if __name__ == "__main__":
    main()
