"""Memory-saving optimizers: factored second moments (Adafactor, CAME, SMMF, AdaLomo; the
shared row/column factors in `factored`), shared second moments (Adam-mini, SlimAdam, Coupled
Adam, Subset-Norm), quantized state (8-bit Adam, FP8 Adam, MicroAdam), SM3, LOMO.

One file per rule (`_<name>.py`: its state, `scale_by_<name>`, aliases); `entries.py`
registers them. Everything listed in `__all__` is re-exported by `baselines`.
"""

from baselines.memory import entries as entries
from baselines.memory._adalomo import ScaleByAdaLomoState, adalomo, scale_by_adalomo
from baselines.memory._adam8bit import (
  ScaleByQuantizedAdamState,
  adam8bit,
  scale_by_adam8bit,
  scale_by_quantized_adam,
)
from baselines.memory._adam_fp8 import adam_fp8, scale_by_adam_fp8
from baselines.memory._adam_mini import (
  ScaleBySharedVAdamState,
  adam_mini,
  scale_by_adam_mini,
  scale_by_shared_v_adam,
)
from baselines.memory._came import ScaleByCameState, came, scale_by_came
from baselines.memory._coupled_adam import coupled_adam, scale_by_coupled_adam
from baselines.memory._microadam import ScaleByMicroAdamState, microadam, scale_by_microadam
from baselines.memory._slimadam import scale_by_slimadam, slimadam
from baselines.memory._smmf import ScaleBySmmfState, scale_by_smmf, smmf
from baselines.memory._subset_norm import scale_by_subset_norm, subset_norm
from baselines.memory.entries import lomo

__all__ = [
  "ScaleByAdaLomoState",
  "ScaleByCameState",
  "ScaleByMicroAdamState",
  "ScaleByQuantizedAdamState",
  "ScaleBySharedVAdamState",
  "ScaleBySmmfState",
  "adalomo",
  "adam8bit",
  "adam_fp8",
  "adam_mini",
  "came",
  "coupled_adam",
  "lomo",
  "microadam",
  "scale_by_adalomo",
  "scale_by_adam8bit",
  "scale_by_adam_fp8",
  "scale_by_adam_mini",
  "scale_by_came",
  "scale_by_coupled_adam",
  "scale_by_microadam",
  "scale_by_quantized_adam",
  "scale_by_shared_v_adam",
  "scale_by_slimadam",
  "scale_by_smmf",
  "scale_by_subset_norm",
  "slimadam",
  "smmf",
  "subset_norm",
]
