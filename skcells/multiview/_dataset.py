"""Torch dataset that cuts a fresh random view of a sample on every access."""

import numpy as np
import torch


class _ViewDataset(torch.utils.data.Dataset):
    """Returns ``(view, y[i])`` with a fresh random view of sample ``i``.

    Built by the views objects' ``training_dataset``.  The views are drawn
    by the plan of the views (``plan.random_params``) from a NumPy generator
    seeded with ``seed`` (folded with the worker seed in DataLoader worker
    processes), so every epoch, and the internal validation split alike,
    sees new views.  ``__getitems__`` cuts a whole batch with one batched
    call.
    """

    def __init__(self, X, y, plan, seed):
        self.X = X
        self.y = np.asarray(y)
        self.plan = plan
        self.seed = int(seed)
        self._generator = np.random.default_rng(self.seed)
        self._worker_seed = None

    def __len__(self):
        return self.X.shape[0]

    def _rng(self):
        info = torch.utils.data.get_worker_info()
        if info is not None and info.seed != self._worker_seed:
            self._worker_seed = info.seed
            self._generator = np.random.default_rng([self.seed, info.seed])
        return self._generator

    def __getitems__(self, indices):
        index = np.asarray(indices, dtype=np.intp)
        params = self.plan.random_params(self._rng(), index.shape[0])
        views = self.plan.cut(self.X, index, params)
        Xv = torch.as_tensor(views, dtype=torch.float32)
        yv = torch.as_tensor(self.y[index])
        return list(zip(Xv.unbind(0), yv.unbind(0), strict=True))

    def __getitem__(self, i):
        return self.__getitems__([i])[0]
