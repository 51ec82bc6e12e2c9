"""Learning-rate schedules, registered as the optimizers that use them: linear decay, warmup +
cosine, Adafactor's relative step, refined schedules, AdAdaGrad's batch-size tests.

One file per rule (`_<name>.py`: its state, `scale_by_<name>`, aliases); `entries.py`
registers them. Everything listed in `__all__` is re-exported by `baselines`.
"""

from baselines.schedules import entries as entries
from baselines.schedules._refined_schedule import adamw_refined, refined_schedule, sgd_refined
from baselines.schedules.entries import (
  adafactor_relative_step,
  adamw_cosine,
  adamw_linear_decay,
  adamw_warmup_cosine,
  sgd_cosine,
  sgd_linear_decay,
  warmup_linear_decay_schedule,
)

__all__ = [
  "adafactor_relative_step",
  "adamw_cosine",
  "adamw_linear_decay",
  "adamw_refined",
  "adamw_warmup_cosine",
  "refined_schedule",
  "sgd_cosine",
  "sgd_linear_decay",
  "sgd_refined",
  "warmup_linear_decay_schedule",
]
