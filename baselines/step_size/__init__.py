"""Methods that set their own step size: D-Adaptation, DoG / DoWG / L-DoG, Prodigy,
Schedule-Free AdamW, and Polyak steps (SPS, MoMo, preconditioned SPS, SANIA).

One file per rule (`_<name>.py`: its state, `scale_by_<name>`, aliases); `entries.py`
registers them. Everything listed in `__all__` is re-exported by `baselines`.
"""

from baselines.step_size import entries as entries
from baselines.step_size._dadapt_sgd import ScaleByDadaptSgdState, dadapt_sgd, scale_by_dadapt_sgd
from baselines.step_size._psps import ScaleByPspsState, psps, scale_by_psps
from baselines.step_size._sania import ScaleBySaniaState, sania, scale_by_sania
from baselines.step_size.entries import ldog

__all__ = [
  "ScaleByDadaptSgdState",
  "ScaleByPspsState",
  "ScaleBySaniaState",
  "dadapt_sgd",
  "ldog",
  "psps",
  "sania",
  "scale_by_dadapt_sgd",
  "scale_by_psps",
  "scale_by_sania",
]
