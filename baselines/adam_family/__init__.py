"""Adam and the per-coordinate adaptive methods around it: AdaGrad, RMSprop, AdaDelta, Adam,
AdamW, and their variants (AMSGrad, AdaBound, AdaBelief, ADOPT, AdEMAMix, MARS, ...).

One file per rule (`_<name>.py`: its state, `scale_by_<name>`, aliases); `entries.py`
registers them. Everything listed in `__all__` is re-exported by `baselines`.
"""

from baselines.adam_family import entries as entries
from baselines.adam_family._adabound import (
  ScaleByAdaBoundState,
  adabound,
  amsbound,
  scale_by_adabound,
)
from baselines.adam_family._adagrad_norm import (
  ScaleByAdagradNormState,
  adagrad_norm,
  scale_by_adagrad_norm,
)
from baselines.adam_family._adam_atan2 import ScaleByAdamAtan2State, adam_atan2, scale_by_adam_atan2
from baselines.adam_family._adamnc import ScaleByAdamNCState, adamnc, scale_by_adamnc
from baselines.adam_family._adamod import ScaleByAdaModState, adamod, scale_by_adamod
from baselines.adam_family._adamomentum import (
  ScaleByAdaMomentumState,
  adamomentum,
  scale_by_adamomentum,
)
from baselines.adam_family._adashift import ScaleByAdaShiftState, adashift, scale_by_adashift
from baselines.adam_family._core_optimizer import ScaleByCoreState, core_optimizer, scale_by_core
from baselines.adam_family._diffgrad import ScaleByDiffGradState, diffgrad, scale_by_diffgrad
from baselines.adam_family._exadam import ScaleByEXAdamState, exadam, scale_by_exadam
from baselines.adam_family._fadam import ScaleByFAdamState, fadam, scale_by_fadam
from baselines.adam_family._grams import ScaleByGramsState, grams, scale_by_grams
from baselines.adam_family._innaprop import ScaleByInnapropState, innaprop, scale_by_innaprop
from baselines.adam_family._laprop import ScaleByLaPropState, laprop, scale_by_laprop
from baselines.adam_family._mars import ScaleByMarsState, mars_adamw, mars_lion, scale_by_mars
from baselines.adam_family._spam import ScaleBySpamState, scale_by_spam, spam

__all__ = [
  "ScaleByAdaBoundState",
  "ScaleByAdaModState",
  "ScaleByAdaMomentumState",
  "ScaleByAdaShiftState",
  "ScaleByAdagradNormState",
  "ScaleByAdamAtan2State",
  "ScaleByAdamNCState",
  "ScaleByCoreState",
  "ScaleByDiffGradState",
  "ScaleByEXAdamState",
  "ScaleByFAdamState",
  "ScaleByGramsState",
  "ScaleByInnapropState",
  "ScaleByLaPropState",
  "ScaleByMarsState",
  "ScaleBySpamState",
  "adabound",
  "adagrad_norm",
  "adam_atan2",
  "adamnc",
  "adamod",
  "adamomentum",
  "adashift",
  "amsbound",
  "core_optimizer",
  "diffgrad",
  "exadam",
  "fadam",
  "grams",
  "innaprop",
  "laprop",
  "mars_adamw",
  "mars_lion",
  "scale_by_adabound",
  "scale_by_adagrad_norm",
  "scale_by_adam_atan2",
  "scale_by_adamnc",
  "scale_by_adamod",
  "scale_by_adamomentum",
  "scale_by_adashift",
  "scale_by_core",
  "scale_by_diffgrad",
  "scale_by_exadam",
  "scale_by_fadam",
  "scale_by_grams",
  "scale_by_innaprop",
  "scale_by_laprop",
  "scale_by_mars",
  "scale_by_spam",
  "spam",
]
