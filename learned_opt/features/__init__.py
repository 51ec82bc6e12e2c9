"""The feature bank: named, composable per-parameter features of learned update rules.

>>> from learned_opt import features
>>> features.names()[:4]
['adabelief', 'adafactor', 'adafactor_col', 'adafactor_momentum_0.5']
>>> bank = features.FeatureBank(("grad", "momentum_0.9", "adam", "dir:lion"))

Files: `base.py` (Feature, Stat, Inputs), `moments.py` (momenta and Adam-like directions),
`factored.py` (Adafactor), `tensor.py` (Muon, trust ratios, tensor norms and shape),
`schedule.py` (step embeddings, horizon, loss), `baseline.py` (`dir:<optimizer>`),
`bank.py` (the registry and `FeatureBank`).
"""

from learned_opt.features.bank import FeatureBank, get, names
from learned_opt.features.base import Feature, Inputs, Stat, ema, normalize_per_tensor

__all__ = [
  "Feature",
  "FeatureBank",
  "Inputs",
  "Stat",
  "ema",
  "get",
  "names",
  "normalize_per_tensor",
]
