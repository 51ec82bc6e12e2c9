"""Privacy accounting for DP-SGD-style training with Google's `dp-accounting` library.

The Rényi-DP curve of the Poisson-subsampled Gaussian mechanism comes from
`dp_accounting.rdp.RdpAccountant`; the conversion to (epsilon, delta) is the library's
improved bound (`conversion="improved"`, the default) or the basic bound
epsilon = min_a RDP(a) + log(1/delta)/(a - 1) (`conversion="classic"`), which is the moments
accountant's tail bound of Abadi et al. 2016 (Theorem 2) and reproduces that paper's numbers.
`conversion="pld"` uses the library's privacy-loss-distribution accountant (tightest).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from dp_accounting import dp_event, pld, rdp

DEFAULT_ORDERS = tuple(range(2, 257))


def dp_sgd_event(noise_multiplier: float, sample_rate: float, steps: int) -> dp_event.DpEvent:
  """`steps` compositions of a Poisson-subsampled Gaussian mechanism."""
  return dp_event.SelfComposedDpEvent(
    dp_event.PoissonSampledDpEvent(sample_rate, dp_event.GaussianDpEvent(noise_multiplier)), steps
  )


def dp_sgd_epsilon(
  noise_multiplier: float,
  sample_rate: float,
  steps: int,
  delta: float,
  conversion: Literal["improved", "classic", "pld"] = "improved",
) -> float:
  """Epsilon of DP-SGD after `steps` steps with batch sampling rate `sample_rate` = B/N.

  Args:
    noise_multiplier: sigma (noise std over the clipping norm).
    sample_rate: q, the Poisson sampling probability of an example per step.
    steps: number of steps T.
    delta: target delta.
    conversion: `"improved"` (RDP, the library's conversion), `"classic"` (RDP, the moments
      accountant's conversion) or `"pld"` (privacy-loss distributions).
  """
  if noise_multiplier <= 0 or not 0 < sample_rate <= 1 or steps < 1 or not 0 < delta < 1:
    raise ValueError(
      "need noise_multiplier > 0, 0 < sample_rate <= 1, steps >= 1 and 0 < delta < 1; got "
      f"{noise_multiplier}, {sample_rate}, {steps}, {delta}."
    )
  event = dp_sgd_event(noise_multiplier, sample_rate, steps)
  if conversion == "pld":
    acc = pld.PLDAccountant()
    acc.compose(event)
    return float(acc.get_epsilon(delta))
  if conversion not in ("improved", "classic"):
    raise ValueError(f"conversion must be 'improved', 'classic' or 'pld', got {conversion!r}.")
  acc = rdp.RdpAccountant(list(DEFAULT_ORDERS))
  acc.compose(event)
  if conversion == "improved":
    return float(acc.get_epsilon(delta))
  orders = np.asarray(acc.orders, np.float64)
  return float(np.min(np.asarray(acc.rdp) + math.log(1 / delta) / (orders - 1)))
