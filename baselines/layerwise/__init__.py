"""Layer-wise rules, one step size or projection per tensor: LARS, LAMB, NovoGrad, AdamP / SGDP,
SGD-SaI, and Adam under μP's per-layer learning rates.

One file per rule (`_<name>.py`: its state, `scale_by_<name>`, aliases); `entries.py`
registers them. Everything listed in `__all__` is re-exported by `baselines`.
"""

from baselines.layerwise import entries as entries
from baselines.layerwise._adamp import (
  ScaleByAdamPState,
  ScaleBySgdPState,
  adamp,
  scale_by_adamp,
  scale_by_sgdp,
  sgdp,
)
from baselines.layerwise._mup import ScaleByMupAdamState, mup_adam, scale_by_mup_adam
from baselines.layerwise._sgd_sai import ScaleBySgdSaiState, scale_by_sgd_sai, sgd_sai

__all__ = [
  "ScaleByAdamPState",
  "ScaleByMupAdamState",
  "ScaleBySgdPState",
  "ScaleBySgdSaiState",
  "adamp",
  "mup_adam",
  "scale_by_adamp",
  "scale_by_mup_adam",
  "scale_by_sgd_sai",
  "scale_by_sgdp",
  "sgd_sai",
  "sgdp",
]
