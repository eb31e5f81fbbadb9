"""Save and load fitted estimators without pickle.

:func:`save_model` writes a fitted estimator -- a
:class:`~skcells.multiview.MultiViewClassifier` with its skorch network, any
scikit-learn estimator or pipeline, a bare skorch net -- into one file that
:func:`load_model` reads back without unpickling anything: parameters and
fitted attributes go through :mod:`skops.io`, whose loader only rebuilds
types from an allow-list, and the networks' tensors through
``torch.load(weights_only=True)``.  :func:`get_untrusted_types` lists what a
file would need trusted beyond the defaults.  :func:`wrap_fitted_net` turns a
network trained elsewhere (or saved with skorch's ``save_params``) into a
fitted multi-view estimator without training it.
"""

from ._format import (
    FORMAT_VERSION,
    TRUSTED_PACKAGES,
    get_untrusted_types,
    load_model,
    save_model,
)
from ._wrap import wrap_fitted_net

__all__ = [
    "FORMAT_VERSION",
    "TRUSTED_PACKAGES",
    "get_untrusted_types",
    "load_model",
    "save_model",
    "wrap_fitted_net",
]
