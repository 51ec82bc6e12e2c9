"""Zeroth-order optimizers: MeZO and the ZO-Bench family, forward gradients, DeepZero, QuZO,
CBO, Adam-FIPSO; and the backprop-free tpSGD (layer-local gradients). Their perturbations come
from `baselines.perturbation`.

One file per rule (`_<name>.py`: its state, `scale_by_<name>`, aliases); `entries.py`
registers them. Everything listed in `__all__` is re-exported by `baselines`.
"""

from baselines.zeroth_order import entries as entries
from baselines.zeroth_order._cbo import ScaleByCBOState, cbo, scale_by_cbo
from baselines.zeroth_order._deepzero import deepzero, scale_by_cge
from baselines.zeroth_order._fipso import ScaleByFIPSOState, adam_fipso, scale_by_adam_fipso
from baselines.zeroth_order._forward_gradient import forward_gradient_sgd, scale_by_forward_gradient
from baselines.zeroth_order._mezo import mezo, scale_by_mezo, zo_adam, zo_sgd_momentum, zo_sgd_sign
from baselines.zeroth_order._quzo import quzo, scale_by_quzo
from baselines.zeroth_order._tpsgd import ScaleByTpsgdState, scale_by_tpsgd, tpsgd
from baselines.zeroth_order._zo_adamu import ScaleByZOAdaMUState, scale_by_zo_adamu, zo_adamu
from baselines.zeroth_order._zo_blockwise import scale_by_blockwise_zo, zo_sgd_blockwise
from baselines.zeroth_order._zo_hybrid import scale_by_hybrid_zo, zo_sgd_hybrid
from baselines.zeroth_order._zo_sgd_cons import (
  ScaleByZOSGDConsState,
  scale_by_zo_sgd_cons,
  zo_sgd_cons,
)
from baselines.zeroth_order._zo_sparse import scale_by_sparse_zo, zo_sgd_sparse

__all__ = [
  "ScaleByCBOState",
  "ScaleByFIPSOState",
  "ScaleByTpsgdState",
  "ScaleByZOAdaMUState",
  "ScaleByZOSGDConsState",
  "adam_fipso",
  "cbo",
  "deepzero",
  "forward_gradient_sgd",
  "mezo",
  "quzo",
  "scale_by_adam_fipso",
  "scale_by_blockwise_zo",
  "scale_by_cbo",
  "scale_by_cge",
  "scale_by_forward_gradient",
  "scale_by_hybrid_zo",
  "scale_by_mezo",
  "scale_by_quzo",
  "scale_by_sparse_zo",
  "scale_by_tpsgd",
  "scale_by_zo_adamu",
  "scale_by_zo_sgd_cons",
  "tpsgd",
  "zo_adam",
  "zo_adamu",
  "zo_sgd_blockwise",
  "zo_sgd_cons",
  "zo_sgd_hybrid",
  "zo_sgd_momentum",
  "zo_sgd_sign",
  "zo_sgd_sparse",
]
