"""Wrappers around any optimizer: lookahead, cautious masks, SAM, FAD, clipping, noise, gradient
centralization, LAWN, NaP, SGG, blockwise learning rates, and the compositions registered
with them (Ranger21, SWATS, StableAdamW, Adam+CM, ...).

One file per rule (`_<name>.py`: its state, `scale_by_<name>`, aliases); `entries.py`
registers them. Everything listed in `__all__` is re-exported by `baselines`.
"""

from baselines.wrappers import entries as entries
from baselines.wrappers._adam_cm import ScaleByAdamCMState, adam_cm, scale_by_adam_cm
from baselines.wrappers._blockwise_lr import blockwise_adamw, blockwise_lr
from baselines.wrappers._cautious import cautious, cautious_adamw, cautious_lion
from baselines.wrappers._fad import fad, fad_adam, fad_sgd
from baselines.wrappers._lawn import LawnState, lawn, lawn_adam, lawn_sgd
from baselines.wrappers._lookahead import (
  LookaheadWrapperState,
  lookahead,
  lookahead_adam,
  lookahead_sgd,
)
from baselines.wrappers._nap import NapState, nap_adam, normalize_and_project
from baselines.wrappers._norm_growth_limiter import (
  ScaleByNormGrowthLimitState,
  norm_growth_limited_adamw,
  scale_by_norm_growth_limit,
)
from baselines.wrappers._ranger21 import (
  ScaleByPnmState,
  StableWeightDecayState,
  ranger21,
  scale_by_pnm,
)
from baselines.wrappers._sam import sam, sam_adam, sam_sgd
from baselines.wrappers._sgg import SggState, sgg, sgg_adamw
from baselines.wrappers._sso import scale_by_sso, sso
from baselines.wrappers._stable_adamw import (
  ScaleByStableAdamState,
  scale_by_stable_adam,
  stable_adamw,
)
from baselines.wrappers._swats import ScaleBySwatsState, scale_by_swats, swats
from baselines.wrappers._ttur import player_labels, ttur
from baselines.wrappers._variance_freezing import (
  ScaleByFrozenVarianceAdamState,
  frozen_variance_adam,
  scale_by_frozen_variance_adam,
)
from baselines.wrappers._xgrad import XGradState, xgrad, xgrad_adam, xgrad_momentum
from baselines.wrappers.entries import (
  agc_sgd,
  coord_clip_sgd,
  gc_adam,
  gc_sgd,
  global_clip_adamw,
  grad_accum_adam,
  noisy_adam,
)

__all__ = [
  "LawnState",
  "LookaheadWrapperState",
  "NapState",
  "ScaleByAdamCMState",
  "ScaleByFrozenVarianceAdamState",
  "ScaleByNormGrowthLimitState",
  "ScaleByPnmState",
  "ScaleByStableAdamState",
  "ScaleBySwatsState",
  "SggState",
  "StableWeightDecayState",
  "XGradState",
  "adam_cm",
  "agc_sgd",
  "blockwise_adamw",
  "blockwise_lr",
  "cautious",
  "cautious_adamw",
  "cautious_lion",
  "coord_clip_sgd",
  "fad",
  "fad_adam",
  "fad_sgd",
  "frozen_variance_adam",
  "gc_adam",
  "gc_sgd",
  "global_clip_adamw",
  "grad_accum_adam",
  "lawn",
  "lawn_adam",
  "lawn_sgd",
  "lookahead",
  "lookahead_adam",
  "lookahead_sgd",
  "nap_adam",
  "noisy_adam",
  "norm_growth_limited_adamw",
  "normalize_and_project",
  "player_labels",
  "ranger21",
  "sam",
  "sam_adam",
  "sam_sgd",
  "scale_by_adam_cm",
  "scale_by_frozen_variance_adam",
  "scale_by_norm_growth_limit",
  "scale_by_pnm",
  "scale_by_sso",
  "scale_by_stable_adam",
  "scale_by_swats",
  "sgg",
  "sgg_adamw",
  "sso",
  "stable_adamw",
  "swats",
  "ttur",
  "xgrad",
  "xgrad_adam",
  "xgrad_momentum",
]
