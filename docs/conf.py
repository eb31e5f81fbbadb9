"""Sphinx configuration for the skcells documentation.

Build with ``bash .ci/docs`` (warnings are errors and every gallery example
runs), or ``sphinx-build -b html -D plot_gallery=0 docs docs/_build/html``
for a quick build that does not run the examples.
"""

import concurrent.futures
import inspect
import logging
import os
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import skcells  # noqa: E402

# Examples run on the CPU; keep torch and BLAS on the cores CI budgets for.
os.environ.setdefault("OMP_NUM_THREADS", "2")

project = "skcells"
author = "The skcells developers"
copyright = "2026, The skcells developers"
release = skcells.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
]
default_role = "literal"

html_theme = "pydata_sphinx_theme"
html_title = f"skcells {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
    "header_links_before_dropdown": 7,
}
html_sidebars = {"index": [], "getting_started": [], "results": []}

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# --------------------------------------------------------------- intersphinx
# The projects' inventories come from the web.  This project's CI has no
# internet, and Sphinx reports an unreachable inventory as a warning, which
# ``-W`` turns into an error.  So the inventories are fetched here, with a
# short timeout, into docs/_build/intersphinx/ and Sphinx reads the local
# copies.  A project whose inventory cannot be fetched and was never cached is
# left out: its cross-references stay plain text instead of failing the build.
# ``SKCELLS_DOCS_OFFLINE=1`` skips the network and uses the cache only.
_INTERSPHINX = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "sklearn": "https://scikit-learn.org/stable/",
    "skorch": "https://skorch.readthedocs.io/en/stable/",
    "torch": "https://docs.pytorch.org/docs/stable/",
    "optuna": "https://optuna.readthedocs.io/en/stable/",
    "pandas": "https://pandas.pydata.org/docs/",
    "matplotlib": "https://matplotlib.org/stable/",
}
_INVENTORY_DIR = Path(__file__).resolve().parent / "_build" / "intersphinx"
_logger = logging.getLogger("skcells.docs")


def _fetch_inventory(name, url, timeout=5.0):
    """Download ``url/objects.inv`` into the cache; return the cached path."""
    path = _INVENTORY_DIR / f"{name}.inv"
    if not os.environ.get("SKCELLS_DOCS_OFFLINE"):
        try:
            with urllib.request.urlopen(url + "objects.inv", timeout=timeout) as r:
                payload = r.read()
            if payload.startswith(b"# Sphinx inventory version"):
                _INVENTORY_DIR.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(payload)
                os.replace(tmp, path)
        except (OSError, ValueError) as exc:
            _logger.info("intersphinx: %s unreachable (%s)", name, exc)
    return path if path.is_file() else None


with concurrent.futures.ThreadPoolExecutor(len(_INTERSPHINX)) as _pool:
    _cached = dict(
        zip(
            _INTERSPHINX,
            _pool.map(lambda item: _fetch_inventory(*item), _INTERSPHINX.items()),
        )
    )
intersphinx_mapping = {
    name: (url, str(_cached[name]))
    for name, url in _INTERSPHINX.items()
    if _cached[name] is not None
}

# ------------------------------------------------------------ sphinx-gallery
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "reference_url": {"skcells": None},
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("skcells",),
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "show_memory": False,
    "remove_config_comments": True,
    "min_reported_time": 1,
    # Per-example times are printed in the build log; no timing pages in the
    # source tree.
    "write_computation_times": False,
}


# ----------------------------------------------------------------- autodoc
def _skip_generated_request_methods(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated ``set_{method}_request`` methods.

    Their docstrings point into scikit-learn's glossary; the user guide
    explains metadata routing of ``difficulty`` instead.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


# ----------------------------------------------------------------- results
# ``skcells reproduce --out docs/results`` stores a run with the docs; the
# results page shows it when it is there (see docs/results.rst).
_RESULTS_DIR = Path(__file__).resolve().parent / "results"
_RESULTS_FIGURES = {
    "fig1_sample_frames.png": "Fig. 1: one sample frame per condition.",
    "fig2_competence.png": "Fig. 2: difficulty histogram and competence.",
    "fig4_validation_curves.png": "Fig. 4: validation loss and accuracy.",
    "fig_conditions.png": "Accuracy per imaging condition beside the "
    "information limits of one view and of the multi-view views.",
}


def _results_section():
    """reST for the end of the results page: the stored run, or how to make one."""
    report = _RESULTS_DIR / "results.md"
    if not report.is_file():
        return (
            "\nNo run of ``skcells reproduce`` is stored with this build of the "
            "documentation.  To show one here, run::\n\n"
            "    skcells reproduce --out docs/results\n\n"
            "and build the documentation again.\n"
        )
    lines = [
        "",
        "The run stored with this build of the documentation "
        "(``docs/results/results.md``, written by ``skcells reproduce``; the "
        "first line names its scale, seeds and device):",
        "",
        ".. literalinclude:: results/results.md",
        "   :language: markdown",
        "",
    ]
    for name, caption in _RESULTS_FIGURES.items():
        if (_RESULTS_DIR / name).is_file():
            lines += [
                f".. figure:: results/{name}",
                "   :width: 100%",
                "",
                f"   {caption}",
                "",
            ]
    return "\n".join(lines) + "\n"


def _append_results(app, docname, source):
    if docname == "results":
        source[0] += _results_section()


def _drop_type_docstrings(app, what, name, obj, options, lines):
    """Module constants without a ``#:`` comment show their type's docstring.

    A tuple constant would be described as "Built-in immutable sequence";
    leave such a constant with its name and value only.
    """
    if what in ("data", "attribute") and lines:
        type_doc = inspect.getdoc(type(obj)) or ""
        if "\n".join(lines).strip() == type_doc.strip():
            lines.clear()


def setup(app):
    app.connect("autodoc-skip-member", _skip_generated_request_methods)
    # Before numpydoc (priority 500) reformats the lines.
    app.connect("autodoc-process-docstring", _drop_type_docstrings, priority=100)
    app.connect("source-read", _append_results)
