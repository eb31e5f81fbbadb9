"""``skcells tune``: tune the predict-time multi-view parameters with Optuna.

Every worker runs the same command.  The study lives in a journal file in
``--out`` unless ``--storage`` names an Optuna storage URL, e.g. a
PostgreSQL database that several machines share::

    skcells tune --storage postgresql+psycopg2://user@db/optuna \\
        --study wbc-views --create --n-trials 20

Each worker fits the model of the recipe (``--scale``, ``--target``,
``--seed``) once, or loads it from the model cache in the data home when
another worker of the machine already fitted it, then scores its trials on
validation data without ever refitting: only ``n_views``, ``crop_scale`` and
``aggregation`` change from trial to trial.  The study records the recipe
and the sha256 of the model, and a worker whose model differs refuses to
add trials, so all trials of a study compare like with like.

Your own data replaces the synthetic recipe: ``--data X.npy --labels
y.csv`` fits the recipe's network on half of your images and scores the
trials on the other half; ``--model MODEL --data X.npy --labels y.csv``
tunes a model you saved with :func:`skcells.persistence.save_model`,
scored on those validation data.

The default study (a journal file in ``--out``) is created when missing;
a study in ``--storage`` needs ``--create``, so that a typo in a shared
database's study name cannot start an empty study.

When the worker's trials are done it prints the best trial of the whole
study and writes ``trials.csv``, ``optimization_history.png`` and
``run.json`` into ``--out``.  Nothing is written when the run fails.
``--report`` writes the same files for an existing study without running
trials.
"""

import datetime
import functools
import json
import logging
import os
import socket
import sys
import warnings
from pathlib import Path

from . import CommandError

# MultiViewClassifier's aggregation rules, written out so that building the
# parser imports no torch (a test checks they match).
AGGREGATION_CHOICES = ("mode", "weighted", "mean", "geometric_mean", "max")

logger = logging.getLogger(__name__)

_RECIPE_ATTR = "skcells:recipe_hash"
_MODEL_ATTR = "skcells:model_sha256"


def add_arguments(parser):
    """Add the ``tune`` options to its subparser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subparser.
    """
    study = parser.add_argument_group("study and storage")
    study.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage URL (sqlite:///file.db, postgresql+psycopg2://"
        "user:password@host:port/db, ...) or a journal file path ending in "
        "'.log'; default: a journal file in --out",
    )
    study.add_argument(
        "--study",
        metavar="NAME",
        default="skcells-tune",
        help="study name (default: %(default)s)",
    )
    study.add_argument(
        "--create",
        action="store_true",
        help="create the study if --storage does not hold it yet (the default "
        "journal file in --out is always created when missing)",
    )
    study.add_argument(
        "--n-trials",
        type=int,
        metavar="N",
        help="trials this worker runs (default: 5 at smoke scale, 30 at quick)",
    )
    study.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="start no new trial after this many seconds",
    )
    study.add_argument(
        "--report",
        action="store_true",
        help="run no trial: print the best trial of an existing study and "
        "write its table and plot",
    )
    study.add_argument(
        "--sampler-seed",
        type=int,
        metavar="INT",
        help="seed of this worker's TPE sampler (default: random, so that "
        "workers explore different points)",
    )
    study.add_argument(
        "--connect-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="database connection timeout (default: %(default)s)",
    )
    study.add_argument(
        "--heartbeat-interval",
        type=int,
        default=10,
        metavar="SECONDS",
        help="database storages: heartbeat of running trials, so that the trial "
        "of a killed worker is marked FAIL (default: %(default)s)",
    )
    study.add_argument(
        "--grace-period",
        type=int,
        metavar="SECONDS",
        help="seconds without heartbeat before a running trial counts as failed "
        "(default: twice the heartbeat interval)",
    )

    model = parser.add_argument_group("model (fitted once per recipe, cached)")
    model.add_argument(
        "--scale",
        choices=("smoke", "quick"),
        default="quick",
        help="size of the data and network (default: %(default)s)",
    )
    model.add_argument(
        "--target",
        choices=("wbc", "rbc"),
        help="cell count the high/low label of the synthetic data describes "
        "(default: wbc)",
    )
    model.add_argument(
        "--seed", type=int, default=0, help="seed of the recipe (default: 0)"
    )
    model.add_argument(
        "--data-home",
        metavar="DIR",
        help="dataset and model cache folder (default: $SKCELLS_DATA or "
        "~/scikit_learn_data/skcells); share it between machines to share "
        "one fitted model",
    )

    own = parser.add_argument_group(
        "your own data and model (instead of the synthetic recipe)"
    )
    own.add_argument(
        "--data",
        metavar="NPY",
        help="your images, a .npy array (n_samples, channels, height, width); "
        "without --model the recipe's network is fitted on half of them and the "
        "trials are scored on the other half; with --model they are the "
        "validation data",
    )
    own.add_argument(
        "--labels",
        metavar="FILE",
        help="labels of --data: a .npy array, or a .csv file with one column "
        "(besides an optional 'filename' column)",
    )
    own.add_argument(
        "--difficulty",
        metavar="NPY",
        help="per-sample difficulty of --data for the curriculum (.npy; "
        "without --model)",
    )
    own.add_argument(
        "--model",
        metavar="MODEL",
        help="tune a model saved with skcells.persistence.save_model (a "
        "multi-view classifier, or a pipeline with one) instead of fitting one",
    )
    own.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="NAME",
        help="also allow this class or function of --model (package.module.Name)",
    )

    space = parser.add_argument_group("search space")
    space.add_argument(
        "--n-views",
        type=int,
        nargs=2,
        metavar=("LOW", "HIGH"),
        help="range of the number of views (default: 1 8 at smoke scale, "
        "1 20 at quick)",
    )
    for end, bound, (low, high) in (
        ("low", "lower", (0.05, 0.5)),
        ("high", "upper", (0.1, 1.0)),
    ):
        space.add_argument(
            f"--crop-scale-{end}",
            type=float,
            nargs=2,
            metavar=("LOW", "HIGH"),
            default=(low, high),
            help=f"range of the {bound} crop-scale bound (default: {low} {high})",
        )
    space.add_argument(
        "--aggregation",
        nargs="+",
        choices=AGGREGATION_CHOICES,
        default=["mode", "weighted", "mean"],
        help="aggregation rules to try (default: mode weighted mean)",
    )
    parser.add_argument(
        "--out",
        default="skcells-results/tune",
        metavar="DIR",
        help="output folder (default: %(default)s)",
    )


def run(args):
    """Run ``skcells tune``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments.

    Returns
    -------
    status : int
        0 on success.
    """
    import optuna

    from ..experiments import get_scale
    from ..tuning import (
        PredictTimeObjective,
        PredictTimeSpace,
        check_n_trials,
        describe_storage,
        load_or_create_study,
        tuning_problem,
        tuning_recipe,
    )
    from ..utils import check_int, check_real, params_hash

    optuna.logging.set_verbosity(
        optuna.logging.INFO if args.verbose else optuna.logging.WARNING
    )
    out = Path(args.out)
    defaults = get_scale(args.scale).tuning
    n_trials = defaults["n_trials"] if args.n_trials is None else args.n_trials
    check_n_trials(n_trials, "--n-trials")
    if args.timeout is not None:
        check_real(args.timeout, "--timeout", low=0, low_open=True)
    if args.sampler_seed is not None:
        check_int(args.sampler_seed, "--sampler-seed", low=0, high=2**32 - 1)
    # The storage's timing options, checked as make_storage checks them (it
    # returns a storage object unchanged), before --out is created below.
    from ..tuning import make_storage

    make_storage(
        optuna.storages.InMemoryStorage(),
        connect_timeout=args.connect_timeout,
        heartbeat_interval=args.heartbeat_interval,
        grace_period=args.grace_period,
    )
    space = PredictTimeSpace(
        n_views=tuple(args.n_views or defaults["n_views"]),
        crop_scale_low=tuple(args.crop_scale_low),
        crop_scale_high=tuple(args.crop_scale_high),
        aggregation=tuple(args.aggregation),
    )
    is_database = isinstance(args.storage, str) and "://" in args.storage
    heartbeat = args.heartbeat_interval if is_database else None
    own = _own_data_arguments(args)
    if args.storage is None:
        out.mkdir(parents=True, exist_ok=True)

    # Open the study before any expensive work, so that a wrong URL or study
    # name fails at once.  The default journal in --out is this worker's own
    # folder: creating the study there cannot hide a typo in a shared name.
    study = load_or_create_study(
        args.study,
        args.storage,
        create=(args.create or args.storage is None) and not args.report,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=args.sampler_seed),
        out_dir=out,
        connect_timeout=args.connect_timeout,
        heartbeat_interval=heartbeat,
        grace_period=args.grace_period if is_database else None,
    )
    where = describe_storage(args.storage, out_dir=out)
    fail_stale = functools.partial(
        _fail_stale, study, heartbeat=heartbeat, grace=args.grace_period
    )
    if args.report:
        fail_stale()
        _finish(study, where, out, worker=None, ran=[])
        return 0

    if own is None:
        target = args.target or "wbc"
        recipe_hash = params_hash(
            tuning_recipe(args.scale, target=target, random_state=args.seed)
        )
        _claim(study, _RECIPE_ATTR, recipe_hash, where)  # before the costly fit
        problem = tuning_problem(
            args.scale, target=target, random_state=args.seed, data_home=args.data_home
        )
    else:
        problem = _own_problem(args, own, study, where)
    _claim(study, _MODEL_ATTR, problem.model_sha256, where)

    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        objective = PredictTimeObjective(
            problem.model,
            problem.X_val,
            problem.y_val,
            space=space,
            random_state=args.seed,
        )
    except TypeError as exc:
        raise CommandError(f"--model: {exc}") from None
    ran = []

    def worker_objective(trial):
        trial.set_user_attr("worker", worker)
        ran.append(trial.number)
        return objective(trial)

    def progress(study, trial):
        logger.info(
            "trial #%d %s: %s", trial.number, trial.state.name.lower(), trial.value
        )

    fail_stale()
    print(
        f"skcells tune: worker {worker} runs {n_trials} trial(s) of study "
        f"{args.study!r} in {where}",
        flush=True,
    )
    study.optimize(
        worker_objective,
        n_trials=n_trials,
        timeout=args.timeout,
        callbacks=[progress],
        show_progress_bar=sys.stderr.isatty(),
    )
    fail_stale()
    _finish(study, where, out, worker=worker, ran=ran)
    return 0


def _own_data_arguments(args):
    """The user's data options, checked; None for the synthetic recipe."""
    given = {
        name: getattr(args, name)
        for name in ("data", "labels", "difficulty", "model")
        if getattr(args, name) is not None
    }
    if args.trust and args.model is None:
        raise CommandError("--trust only applies to --model.")
    if not given:
        return None
    if args.data is None or args.labels is None:
        raise CommandError(
            "--data and --labels go together"
            + (" (and --model needs both)." if args.model else ".")
        )
    if args.target is not None:
        raise CommandError(
            "--target describes the synthetic data; drop it with --data."
        )
    if args.model is not None and args.difficulty is not None:
        raise CommandError("--difficulty is for fitting; a --model is not refitted.")
    return given


def _load_array(path, option):
    import numpy as np

    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise CommandError(f"{option} {str(path)!r} must be a .npy file.")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise CommandError(f"{option} {str(path)!r} does not exist.") from None
    except (ValueError, OSError, EOFError) as exc:
        raise CommandError(
            f"{option} {str(path)!r} cannot be read as a .npy array: {exc}"
        ) from None


def _load_labels(path):
    """Labels from a .npy array or a one-column CSV."""
    import numpy as np

    path = Path(path)
    if path.suffix.lower() == ".npy":
        return np.asarray(_load_array(path, "--labels"))
    if path.suffix.lower() != ".csv":
        raise CommandError(f"--labels {str(path)!r} must be a .npy or .csv file.")
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise CommandError(f"--labels {str(path)!r} does not exist.") from None
    except (ValueError, OSError) as exc:
        raise CommandError(f"--labels {str(path)!r} cannot be read: {exc}") from None
    columns = [c for c in table.columns if c != "filename"]
    if len(columns) != 1:
        raise CommandError(
            f"--labels {str(path)!r} must have one label column (besides "
            f"'filename'), got {columns}."
        )
    return table[columns[0]].to_numpy()


def _own_problem(args, own, study, where):
    """Model and validation data of --data/--labels (and --model)."""
    import numpy as np
    from sklearn.utils import Bunch

    from ..tuning import tuning_problem_from_data, tuning_recipe_from_data
    from ..utils import params_hash, sha256_file

    X = _load_array(args.data, "--data")
    y = _load_labels(args.labels)
    if len(y) != len(X):
        raise CommandError(
            f"--labels has {len(y)} labels for the {len(X)} samples of --data."
        )
    if args.model is None:
        difficulty = None
        if args.difficulty is not None:
            difficulty = np.asarray(_load_array(args.difficulty, "--difficulty"))
            if len(difficulty) != len(X):
                raise CommandError(
                    f"--difficulty has {len(difficulty)} values for the {len(X)} "
                    "samples of --data."
                )
        X = np.asarray(X)
        recipe = tuning_recipe_from_data(
            X, y, difficulty=difficulty, scale=args.scale, random_state=args.seed
        )
        _claim(study, _RECIPE_ATTR, params_hash(recipe), where)  # before the fit
        return tuning_problem_from_data(
            X,
            y,
            difficulty=difficulty,
            scale=args.scale,
            random_state=args.seed,
            data_home=args.data_home,
        )
    from ..persistence import load_model

    if not Path(args.model).is_file():
        raise CommandError(f"--model {args.model!r} does not exist.")
    model_sha256 = sha256_file(args.model)
    recipe = {
        "model_sha256": model_sha256,
        "data_sha256": sha256_file(args.data),
        "labels_sha256": sha256_file(args.labels),
    }
    _claim(study, _RECIPE_ATTR, params_hash(recipe), where)
    model = load_model(args.model, trusted=args.trust)
    return Bunch(
        model=model, X_val=X, y_val=y, recipe=recipe, model_sha256=model_sha256
    )


def _claim(study, key, mine, where):
    """Record ``key`` in the study's attributes, or check that it matches."""
    theirs = study.user_attrs.get(key)
    if theirs is None:
        study.set_user_attr(key, mine)
        # Two first workers may race; read back what the storage kept.
        theirs = study.user_attrs.get(key, mine)
    if theirs == mine:
        return
    if key == _RECIPE_ATTR:
        what = "recipe (--scale/--target/--seed, or --data/--labels/--model)"
        hint = "use the same options, or another --study"
    else:
        what = "fitted model"
        hint = (
            "share one model cache between the workers (--data-home on a common "
            "folder), or use another --study"
        )
    raise CommandError(
        f"study {study.study_name!r} in {where} was started with another {what} "
        f"({theirs[:12]}, this worker has {mine[:12]}); {hint}."
    )


def _fail_stale(study, *, heartbeat, grace):
    """Mark trials of dead workers as failed (database storages only).

    Optuna's heartbeat covers a trial once its heartbeat thread has written
    the first beat, which happens just after ``study.ask()`` created the
    trial.  A worker killed in between leaves a RUNNING trial without any
    heartbeat, which Optuna never marks stale.  Every trial of this command
    stamps its ``worker`` attribute first thing, so a RUNNING trial without
    one that started more than a grace period (``grace`` seconds, twice the
    ``heartbeat`` interval when None) ago belongs to a dead worker and is
    marked FAIL as well (this compares the trial's start time with this
    machine's clock: workers' clocks are assumed to agree to within the
    grace period).
    """
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fail_stale_trials is "experimental"
        optuna.storages.fail_stale_trials(study)
    if heartbeat is None:
        return
    grace = datetime.timedelta(seconds=grace or 2 * heartbeat)
    now = datetime.datetime.now()
    running = optuna.trial.TrialState.RUNNING
    for trial in study.get_trials(deepcopy=False, states=(running,)):
        started = trial.datetime_start
        if "worker" in trial.user_attrs or started is None or now - started <= grace:
            continue
        try:
            state = optuna.trial.TrialState.FAIL
            study.tell(trial.number, state=state, skip_if_finished=True)
            logger.warning(
                "trial #%d never started its objective (worker killed); marked FAIL",
                trial.number,
            )
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # another worker finished or failed it meanwhile


def _finish(study, where, out, *, worker, ran):
    """Print the best trial and write the table, the plot and run.json."""
    from ..tuning import (
        PredictTimeSpace,
        best_trial,
        best_trial_summary,
        count_states,
        warn_if_flat,
        write_study_report,
    )
    from ..utils import atomic_file

    states = count_states(study)
    summary = best_trial_summary(study)
    paths = write_study_report(study, out)
    best = None
    trial = best_trial(study)
    if trial is not None:
        best = {
            "number": trial.number,
            "value": trial.value,
            "params": trial.params,
            "estimator_params": {
                k: list(v) if isinstance(v, tuple) else v
                for k, v in PredictTimeSpace.to_estimator_params(trial.params).items()
            },
            "worker": trial.user_attrs.get("worker"),
        }
    record = {
        "study": study.study_name,
        "storage": where,
        "worker": worker,
        "trials_run": sorted(ran),
        "states": states,
        "best_trial": best,
        "recipe_hash": study.user_attrs.get(_RECIPE_ATTR),
        "model_sha256": study.user_attrs.get(_MODEL_ATTR),
    }
    with atomic_file(out / "run.json") as tmp:
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    counts = ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items()))
    print(f"study {study.study_name!r}: {counts or 'no trials'}")
    if states.get("RUNNING"):
        print("note: trials still running elsewhere; this best trial is provisional")
    print(summary)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flat = warn_if_flat(study)
    if flat:
        print(f"skcells tune: warning: {flat}", file=sys.stderr)
    print(
        "wrote "
        + ", ".join(
            str(p) for p in (paths["trials"], paths["history"], out / "run.json")
        )
    )
