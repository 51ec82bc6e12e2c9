"""Matrix optimizers: Shampoo, SOAP, Muon, AuON, Conda, SWAN, SinkGD, SCALE, MARS-Shampoo, POET,
Riemannian Adam. `baselines.matrix.common` holds what they share: which leaves are matrices,
the reshape rule, the AdamW fallback, Newton–Schulz orthogonalization.

One file per rule (`_<name>.py`: its state, `scale_by_<name>`, aliases); `entries.py`
registers them. Everything listed in `__all__` is re-exported by `baselines`.
"""

from baselines.axes import matrix_shape as matrix_shape
from baselines.matrix import entries as entries
from baselines.matrix._auon import ScaleByAuonState, auon, hybrid_auon, scale_by_auon
from baselines.matrix._conda import ScaleByCondaState, conda, scale_by_conda
from baselines.matrix._mars_shampoo import (
  ScaleByMarsShampooState,
  mars_shampoo,
  scale_by_mars_shampoo,
)
from baselines.matrix._poet import ScaleByPoetState, poet, scale_by_poet
from baselines.matrix._riemannian import (
  ScaleByRiemannianState,
  riemannian_adagrad,
  riemannian_adam,
  riemannian_adaptive,
  riemannian_amsgrad,
)
from baselines.matrix._scale import scale, scale_by_column_norm
from baselines.matrix._shampoo import ScaleByShampooState, scale_by_shampoo, shampoo
from baselines.matrix._sinkgd import scale_by_sinkgd, sinkgd
from baselines.matrix._soap import ScaleBySoapState, scale_by_soap, soap
from baselines.matrix._swan import scale_by_swan, swan
from baselines.matrix.common import newton_schulz as newton_schulz
from baselines.matrix.entries import muon, muon_dimension_numbers, muon_linear_decay

__all__ = [
  "ScaleByAuonState",
  "ScaleByCondaState",
  "ScaleByMarsShampooState",
  "ScaleByPoetState",
  "ScaleByRiemannianState",
  "ScaleByShampooState",
  "ScaleBySoapState",
  "auon",
  "conda",
  "hybrid_auon",
  "mars_shampoo",
  "muon",
  "muon_dimension_numbers",
  "muon_linear_decay",
  "poet",
  "riemannian_adagrad",
  "riemannian_adam",
  "riemannian_adaptive",
  "riemannian_amsgrad",
  "scale",
  "scale_by_auon",
  "scale_by_column_norm",
  "scale_by_conda",
  "scale_by_mars_shampoo",
  "scale_by_poet",
  "scale_by_shampoo",
  "scale_by_sinkgd",
  "scale_by_soap",
  "scale_by_swan",
  "shampoo",
  "sinkgd",
  "soap",
  "swan",
]
