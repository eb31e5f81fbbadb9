"""Running the series: one function per run, one for the whole experiment."""

import dataclasses
import logging
import numbers
import os
import random
import threading
import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from ..utils import check_bool, check_int, check_n_jobs, check_option
from ._data import _load_inputs
from ._limits import information_limit
from ._paper import _MODEL_LABELS
from ._protocol import VARIANTS, _history_rows, evaluate_views, make_net, split_test
from ._scales import _SERIES, Scale, get_scale

logger = logging.getLogger(__name__)

#: Most views cut and sent to the network at once when predicting.
_PREDICT_BATCH = 2048
#: Bytes of float32 source pixels converted at once when cutting views.
_CUT_BYTES = 2**28


@dataclass
class ExperimentResults:
    """What :func:`run_experiments` returns.

    Attributes
    ----------
    results : pandas.DataFrame
        One row per run and evaluation (``variant``: ``"baseline"``,
        ``"MVM"``, ``"MVWCo-S"``) with the accuracy in percent and the run's
        configuration, timings and parameter counts.
    histories : dict of str to list of dict
        Per-epoch skorch history (losses, validation accuracy, competence)
        of every run, keyed by :attr:`RunSpec.key`.
    scale : Scale
        The scale that was run.
    seeds : tuple of int
        The seeds that were run.
    datasets : dict
        What each dataset name stands for, e.g. ``{"digits": "scikit-learn
        digits, 3x32x32"}``.
    videos : sklearn.utils.Bunch or None
        The synthetic set (for the figures and the data summary), with RBC
        labels and difficulties when series 2 ran and WBC ones otherwise;
        None when only series 3 ran.
    wall_seconds : float
        Duration of the experiment.
    """

    results: object
    histories: dict
    scale: Scale
    seeds: tuple = ()
    datasets: dict = field(default_factory=dict)
    videos: object = None
    wall_seconds: float = 0.0


def _seed_everything(seed):
    import torch

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (libraries may use the global RNG)
    torch.manual_seed(seed)


def run_one(
    spec,
    X,
    y,
    *,
    difficulty=None,
    videos=None,
    device="cpu",
    threads=None,
    curriculum=None,
):
    """Train and evaluate one run of the protocol.

    The pool is split 0.8 / 0.2 (stratified by ``spec.seed``) into training
    and test; the net's validation split takes 25 % of the training pool;
    label noise, when asked for, corrupts the training pool only.  The net is
    wrapped in a :class:`~skcells.multiview.MultiViewClassifier` and trained
    on random resized crops; the test accuracy is measured for one view
    (baseline), MVM and MVWCo-S over ``spec.n_views`` views.  When ``X``
    is cut from synthetic videos (``videos``), the accuracy is also broken
    down by imaging condition and set beside the information limit of the
    same views (:func:`information_limit`).

    Parameters
    ----------
    spec : RunSpec
        The run (with a seed).
    X : ndarray
        Images ``(n, 3, H, W)`` or clips ``(n, T, 3, H, W)``, uint8.
    y : ndarray of shape (n,)
        Labels.
    difficulty : ndarray of shape (n,), default=None
        Per-sample difficulty, used when ``spec.curriculum``.
    videos : GenerationParams, default=None
        The parameters of the synthetic set ``X`` comes from, with sample
        ``i`` of ``X`` cut from video ``i`` (its first frame for frame
        inputs).  The rows then hold ``accuracy_<condition>`` for each
        imaging condition, ``limit`` (the ideal reader's accuracy with the
        row's views, in percent) and ``limit_<condition>``; NaN otherwise.
    device : {"cpu", "cuda"}, default="cpu"
        Torch device.
    threads : int, default=None
        Torch CPU threads for this run (restored afterwards); None leaves
        the setting alone.
    curriculum : dict, default=None
        Curriculum parameters of the scale.

    Returns
    -------
    rows : list of dict
        One row per evaluation variant.
    history : list of dict
        The per-epoch history.
    """
    import torch

    from ..models import count_parameters
    from ..noise import asymmetric_label_noise

    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        _seed_everything(spec.seed)
        train, test = split_test(y, random_state=spec.seed)
        y_train = y[train]
        if spec.label_noise:
            mapping = "cifar10" if spec.dataset == "cifar10" else "pairflip"
            y_train = asymmetric_label_noise(
                y_train, spec.label_noise, mapping=mapping, random_state=spec.seed
            )
        clf = _classifier(
            spec,
            n_classes=len(np.unique(y)),
            device=device,
            curriculum=curriculum,
            predict_batch=_predict_batch(X),
        )
        fit_params = {}
        if spec.curriculum:
            if difficulty is None:
                raise ValueError(f"run {spec.key} needs a difficulty per sample.")
            fit_params["difficulty"] = np.asarray(difficulty)[train]
        start = time.perf_counter()
        clf.fit(np.asarray(X[train]), y_train, **fit_params)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        X_test = np.asarray(X[test])
        accuracy, predictions = evaluate_views(
            clf, X_test, y[test], n_views=spec.n_views, return_predictions=True
        )
        predict_seconds = time.perf_counter() - start
        breakdown = _breakdown(clf, X_test, y[test], test, predictions, videos)
        module = clf.estimator_.module_
        history = _history_rows(clf.estimator_)
    finally:
        torch.set_num_threads(previous_threads)
    best = [row["best_epoch"] for row in history if "best_epoch" in row]
    base = {
        "series": spec.series,
        "dataset": spec.dataset,
        "model": spec.model,
        "model_label": _MODEL_LABELS[spec.model],
        "input": spec.input,
        "input_shape": "[" + ",".join(map(str, spec.input_shape)) + "]",
        "curriculum": spec.curriculum,
        "label_noise": spec.label_noise,
        "label_smoothing": spec.label_smoothing,
        "lr_schedule": spec.lr_schedule,
        "pretrained": _pretrained_flag(spec),
        "seed": spec.seed,
        "epochs": spec.epochs,
        "best_epoch": best[-1] if best else len(history),
        "n_views": spec.n_views,
        "crop_scale": f"{spec.crop_scale[0]:g}-{spec.crop_scale[1]:g}",
        "n_params": count_parameters(module),
        "n_trainable": count_parameters(module, trainable=True),
        "n_train_pool": int(train.size),
        "n_test": int(test.size),
        "fit_seconds": round(fit_seconds, 3),
        "predict_seconds": round(predict_seconds, 3),
        "device": device,
        "run": spec.key,
    }
    rows = []
    for variant in VARIANTS:
        n_views = 1 if variant == "baseline" else spec.n_views
        rows.append(
            {
                **base,
                "variant": variant,
                "views_used": n_views,
                "accuracy": 100.0 * accuracy[variant],
                **breakdown[variant],
            }
        )
    return rows, history


def _breakdown(clf, X, y, indices, predictions, videos):
    """Per-condition accuracies and information limits of every variant (%).

    ``X`` are the test inputs, cut from videos ``indices`` of the synthetic
    set ``videos`` (GenerationParams, or None: every value is NaN).
    """
    from ..datasets import CONDITIONS

    # one column order for every row, whichever run comes back first
    columns = [f"accuracy_{c}" for c in CONDITIONS]
    columns += ["limit"] + [f"limit_{c}" for c in CONDITIONS]
    if videos is None:
        return {variant: dict.fromkeys(columns, np.nan) for variant in VARIANTS}
    limit = information_limit(videos, clf.sample_windows(X), indices)
    condition = limit.reader.condition
    out = {}
    for variant in VARIANTS:
        correct = predictions[variant] == y
        reader = limit.correct_single if variant == "baseline" else limit.correct_multi
        row = {"limit": 100.0 * reader.mean()}
        for c in CONDITIONS:
            mask = condition == c
            row[f"accuracy_{c}"] = (
                100.0 * correct[mask].mean() if mask.any() else np.nan
            )
            row[f"limit_{c}"] = 100.0 * reader[mask].mean() if mask.any() else np.nan
        out[variant] = {column: row[column] for column in columns}
    return out


def _classifier(spec, *, n_classes, device="cpu", curriculum=None, predict_batch=None):
    """The unfitted multi-view classifier of one run, as :func:`run_one` trains it.

    On CPU the convolution weights are stored channels-last
    (``make_net(channels_last=True)``), the layout oneDNN's kernels prefer.
    """
    from ..multiview import MultiViewClassifier

    net = make_net(
        model=spec.model,
        n_classes=n_classes,
        model_params=dict(spec.model_params),
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        seed=spec.seed,
        weight_decay=spec.weight_decay,
        label_smoothing=spec.label_smoothing,
        lr_schedule=spec.lr_schedule,
        curriculum=(curriculum or {}) if spec.curriculum else None,
        device=device,
        channels_last=device == "cpu",
    )
    return MultiViewClassifier(
        net,
        n_views=1,
        crop_scale=spec.crop_scale,
        output_size=spec.output_size,
        clip_length=spec.clip_length if spec.input == "clip" else None,
        batch_size=predict_batch,
        random_state=spec.seed,
    )


def _predict_batch(X):
    """Views per prediction chunk, bounding the memory of the cut sources."""
    per_view = 4 * int(np.prod(X.shape[1:]))
    return int(max(16, min(_PREDICT_BATCH, _CUT_BYTES // per_view)))


def _pretrained_flag(spec):
    value = dict(spec.model_params).get("pretrained")
    if value is None or value is False:
        return "none"
    return "download" if value is True else "checkpoint"


def _check_sequence(values, name, check):
    """A non-empty tuple of the values of a sequence, each one checked."""
    if isinstance(values, str) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence, got {values!r}.")
    values = tuple(check(v, name) for v in values)
    if not values:
        raise ValueError(f"{name} must be a non-empty sequence.")
    return values


def _check_series(series):
    if isinstance(series, numbers.Integral):
        series = (series,)
    chosen = _check_sequence(series, "series", partial(check_int, low=1, high=3))
    return tuple(sorted(set(chosen)))


def _check_seeds(seeds):
    if seeds is None:
        return None
    chosen = _check_sequence(seeds, "seeds", partial(check_int, low=0))
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"seeds must be distinct, got {seeds!r}.")
    return chosen


def _check_weights(weights):
    """Checkpoint path or True (download) per model name."""
    from ..models import MODEL_NAMES

    weights = dict(weights or {})
    for model, value in weights.items():
        check_option(model, "weights", MODEL_NAMES)
        if value == "download" and model == "cnn9":
            raise ValueError(
                "weights: 'download' is not available for cnn9 (no published "
                "weights); give a checkpoint path."
            )
        if value == "download":
            weights[model] = True
        elif not isinstance(value, str | os.PathLike):
            raise TypeError(
                f"weights[{model!r}] must be a checkpoint path or 'download', got "
                f"{value!r}."
            )
        elif not os.path.isfile(value):
            raise FileNotFoundError(
                f"weights: the checkpoint {os.fspath(value)!r} for {model} is not a "
                "file."
            )
        else:
            weights[model] = os.fspath(value)
    return weights


def run_experiments(
    *,
    series=_SERIES,
    scale="quick",
    seeds=None,
    device="cpu",
    n_jobs=None,
    data_home=None,
    cifar_root=None,
    weights=None,
    progress=None,
    scheduler=None,
):
    """Run the paper's experiments (Table 1 and Table 2) at a scale.

    Series 1 trains each network of the scale on the WBC target of the
    synthetic videos and evaluates the single-view baseline, MVM and
    MVWCo-S; series 2 trains X3D on the RBC target on single frames and
    9-frame clips, with and without curriculum learning; series 3 trains the
    9-layer CNN with clean labels and with 20 % asymmetric label noise plus
    label smoothing 0.4, on CIFAR-10 when ``cifar_root`` holds it and on
    scikit-learn's digits otherwise.  Every (run, seed) is independent; runs
    are spread over ``n_jobs`` processes, or over the workers of a Dask
    cluster (``scheduler``).

    Parameters
    ----------
    series : sequence of {1, 2, 3}, default=(1, 2, 3)
        Series to run.
    scale : {"smoke", "quick", "paper"} or Scale, default="quick"
        Sizes, epochs and seeds (see :func:`get_scale`).
    seeds : sequence of int, default=None
        Seeds to run instead of the scale's.
    device : {"cpu", "cuda"}, default="cpu"
        Torch device of the training and prediction.
    n_jobs : int, default=None
        Parallel processes, each with ``cpu_count // n_jobs`` torch threads.
        None: one single-threaded process per CPU core (at most one per
        run), as fast as threads on an idle machine and about twice as fast
        on a busy one (``benchmarks/bench_experiments.py``); one
        single-threaded process at the smoke scale; one process on CUDA.
        -1: one process per core.
    data_home : str or os.PathLike, default=None
        Cache folder of the synthetic videos.
    cifar_root : str or os.PathLike, default=None
        Folder with torchvision's CIFAR-10; None uses scikit-learn's digits
        for series 3.
    weights : dict, default=None
        Pretrained weights per model name: a local checkpoint path or
        ``"download"`` (needs the internet), e.g. ``{"x3d_xs":
        "X3D_XS.pyth"}``.  Models without an entry start from random weights.
    progress : bool, default=None
        Show progress bars; None shows them when standard error is a
        terminal.
    scheduler : str or distributed.Client, default=None
        Run the runs on an existing Dask cluster instead of local processes:
        the address of its scheduler (e.g. ``"tcp://10.0.0.1:8786"``) or a
        connected :class:`distributed.Client`.  Every run is one task,
        submitted through joblib's Dask backend.  A worker loads the data of
        its runs itself, once per process: from ``data_home`` when the
        workers share that folder, else it renders its own copy (the videos
        are a pure function of their seed, so every copy has the same
        bytes); ``cifar_root`` must exist on the workers.  On CPU every run
        uses one torch thread, as the local default does, so the table is
        the local one (on workers with the same software and CPU type).
        Runs in one worker process run one at a time (they share torch's
        global random state): start workers with ``--nthreads 1``.  With
        ``device="cuda"`` every run asks for the worker resource ``GPU=1``:
        start one worker per GPU with ``--resources GPU=1``.  ``n_jobs``
        must be None.  Needs ``dask[distributed]`` (``pip install
        "skcells[dask]"``); see the user guide's "Scaling out".

    Returns
    -------
    results : ExperimentResults
        The per-run results table, the training histories and the data.

    Examples
    --------
    >>> import tempfile
    >>> from skcells.experiments import run_experiments
    >>> res = run_experiments(series=[3], scale="smoke", progress=False,
    ...                       data_home=tempfile.mkdtemp())  # doctest: +SKIP
    >>> sorted(res.results["variant"].unique())  # doctest: +SKIP
    ['MVM', 'MVWCo-S', 'baseline']
    """
    import pandas as pd
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    start = time.perf_counter()
    series = _check_series(series)
    scale = scale if isinstance(scale, Scale) else get_scale(scale)
    seeds = _check_seeds(seeds)
    if check_option(device, "device", ("cpu", "cuda")) == "cuda" and scheduler is None:
        import torch

        if not torch.cuda.is_available():
            raise ValueError("device='cuda' was asked for, but no CUDA GPU is visible.")
    n_jobs = check_n_jobs(n_jobs)
    threads = None
    weights = _check_weights(weights)
    disable = None if progress is None else not check_bool(progress, "progress")
    if scheduler is not None and n_jobs is not None:
        raise ValueError(
            f"n_jobs={n_jobs!r} sets local processes; with scheduler= the runs go "
            "to the Dask cluster's workers: leave n_jobs=None."
        )
    scheduler = _check_scheduler(scheduler)

    runs = scale.runs(series=series, seeds=seeds)
    if weights:
        runs = [_with_weights(r, weights) for r in runs]
    if cifar_root is not None:
        runs = [
            dataclasses.replace(r, dataset="cifar10") if r.dataset == "digits" else r
            for r in runs
        ]
    n_cpu = os.cpu_count() or 1
    if n_jobs is None:
        # One single-threaded process per core: as fast as threads when the
        # machine is idle, and robust when it is shared (busy cores make
        # torch's threads wait on each other).
        n_jobs = 1 if scale.name == "smoke" or device == "cuda" else n_cpu
        threads = 1
    n_jobs = max(1, min(n_jobs, len(runs)))
    if device == "cuda":
        threads = None
    elif threads is None:
        threads = max(1, n_cpu // n_jobs)
    # connect first: an unreachable scheduler fails before any rendering
    client, own_client = _dask_client(scheduler)
    try:
        resources = _resources(client, device)
        render_jobs = 1 if scale.name == "smoke" else max(n_jobs, n_cpu // 2)
        inputs, datasets, videos = _load_inputs(
            runs,
            scale,
            cifar_root=cifar_root,
            data_home=data_home,
            n_jobs=render_jobs,
            verbose=progress,
        )
        if scheduler is None:
            logger.info(
                "%d runs at scale %r on %s, %d process(es)",
                len(runs),
                scale.name,
                device,
                n_jobs,
            )

        rows, histories = [], {}
        bar = tqdm(
            total=len(runs),
            desc=f"reproduce ({scale.name})",
            unit="run",
            disable=disable,
        )
        options = {"device": device, "threads": threads, "curriculum": scale.curriculum}
        with bar, _backend(client, resources):
            if client is None:
                tasks = (
                    delayed(_job)(spec, *inputs[(spec.dataset, spec.input)], **options)
                    for spec in runs
                )
            else:
                # the workers load the data themselves; one torch thread a run
                where = {"cifar_root": cifar_root, "data_home": data_home}
                where = {
                    k: v if v is None else os.path.abspath(os.fspath(v))
                    for k, v in where.items()
                }
                options["threads"] = None if device == "cuda" else 1
                tasks = (
                    delayed(_remote_job)(spec, scale, where, options) for spec in runs
                )
                n_jobs = -1  # every worker thread of the cluster
                logger.info(
                    "%d runs at scale %r on %s, Dask cluster %s",
                    len(runs),
                    scale.name,
                    device,
                    client.scheduler.address,
                )
            outputs = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(tasks)
            for spec, (run_rows, history) in outputs:
                rows.extend(run_rows)
                histories[spec.key] = history
                bar.set_postfix_str(spec.key, refresh=False)
                bar.update()
    finally:
        if own_client:
            client.close()
    table = pd.DataFrame(rows)
    table["scale"] = scale.name
    table = table.sort_values(
        ["series", "dataset", "model", "input", "curriculum", "label_noise", "seed"],
        kind="stable",
    ).reset_index(drop=True)
    return ExperimentResults(
        results=table,
        histories=histories,
        scale=scale,
        seeds=tuple(
            dict.fromkeys(
                seed
                for k in series
                for seed in (scale.seeds_of(k) if seeds is None else seeds)
            )
        ),
        datasets=datasets,
        videos=videos,
        wall_seconds=time.perf_counter() - start,
    )


def _job(spec, X, y, difficulty, videos, **options):
    """One run, in a worker process or in this one."""
    return spec, run_one(spec, X, y, difficulty=difficulty, videos=videos, **options)


def _check_scheduler(scheduler):
    """None, a scheduler address (str) or a distributed.Client."""
    if scheduler is None:
        return None
    if isinstance(scheduler, str):
        if not scheduler.strip():
            raise ValueError(
                "scheduler must be the address of a Dask scheduler (e.g. "
                "'tcp://10.0.0.1:8786'), got an empty string."
            )
        try:
            import distributed  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "scheduler= runs the experiments on a Dask cluster, which needs "
                "dask.distributed: pip install 'skcells[dask]'."
            ) from exc
        return scheduler.strip()
    try:
        from distributed import Client
    except ImportError:
        Client = ()
    if not isinstance(scheduler, Client):
        raise TypeError(
            "scheduler must be the address of a Dask scheduler (e.g. "
            f"'tcp://10.0.0.1:8786') or a distributed.Client, got {scheduler!r}."
        )
    return scheduler


def _dask_client(scheduler):
    """``(client, owned)`` for a checked ``scheduler``; ``(None, False)`` for None."""
    if scheduler is None or not isinstance(scheduler, str):
        return scheduler, False
    from distributed import Client

    return Client(scheduler, set_as_default=False), True


def _resources(client, device):
    """Dask resources of every run: a GPU on CUDA, which some worker must have."""
    if client is None or device != "cuda":
        return {}
    workers = client.scheduler_info()["workers"]
    if not any(w.get("resources", {}).get("GPU") for w in workers.values()):
        raise ValueError(
            "device='cuda' on a Dask cluster runs every run on a worker with "
            f"the resource GPU=1, and none of the {len(workers)} worker(s) of "
            f"{client.scheduler.address} has it: start one worker per GPU "
            "with `dask worker ADDRESS --nthreads 1 --resources GPU=1`."
        )
    return {"GPU": 1}


def _backend(client, resources):
    """joblib's Dask backend on ``client``, or nothing when it is None."""
    from contextlib import nullcontext

    from joblib import parallel_config

    if client is None:
        return nullcontext()
    extra = {"resources": resources} if resources else {}
    return parallel_config(backend="dask", client=client, **extra)


# Runs in one Dask worker process take turns: they seed and use torch's
# global random state and thread count.  Their inputs are loaded once.
_WORKER_LOCK = threading.Lock()
_WORKER_INPUTS = {}


def _remote_job(spec, scale, where, options):
    """One run on a Dask worker, on data the worker loads (once) itself."""
    with _WORKER_LOCK:
        if options["device"] == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise RuntimeError(
                    "device='cuda': this Dask worker has the GPU resource but "
                    "no CUDA GPU is visible to torch."
                )
        key = (spec.dataset, spec.input, scale.n_videos, scale.n_frames, scale.size)
        key += (scale.series3_samples, where["data_home"], where["cifar_root"])
        key += tuple(sorted(scale.generation.items()))
        if key not in _WORKER_INPUTS:
            from joblib import parallel_config

            # in this process: a task runs under joblib's Dask backend, which
            # would send the rendering back to the cluster
            with parallel_config(backend="sequential"):
                inputs, _, _ = _load_inputs(
                    [spec],
                    scale,
                    cifar_root=where["cifar_root"],
                    data_home=where["data_home"],
                    n_jobs=1,
                    verbose=False,
                )
            _WORKER_INPUTS[key] = inputs[(spec.dataset, spec.input)]
        return _job(spec, *_WORKER_INPUTS[key], **options)


def _with_weights(spec, weights):
    if spec.model not in weights:
        return spec
    params = dict(spec.model_params)
    params["pretrained"] = weights[spec.model]
    return dataclasses.replace(spec, model_params=tuple(sorted(params.items())))
