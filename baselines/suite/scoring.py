"""Across-task scores of the comparison suite: time to target, performance profiles, speedups.

Definitions (the ones `report.md` states):

- **Target** of a task: the reference column's (the tuned AdamW's, or e.g. `adam@defaults`,
  the Adam a nowcaster accelerates: NiNo's protocol) final validation loss,
  the median over seeds of the validation loss after the last step. Everything here is
  computed on the reported runs (`baselines.suite.report`): the tuned columns' reruns on fresh
  seeds, the defaults and the learned optimizers on the same seeds.
- **Steps to target** of an optimizer on a task: the first evaluation step `s` (of
  `tasks.training.eval_steps`) at which its *median validation curve* (the median over
  seeds of the validation loss, per evaluation step) is <= the target; infinite if it never
  is (non-finite losses never reach it). The reference reaches its own target by the last
  step at the latest, since its median curve ends at the target.
- **Performance profile** (AlgoPerf, Dahl et al. 2023, arXiv:2306.07179): for optimizer
  `o` and task `t`, the ratio `r[o, t] = steps[o, t] / min_o' steps[o', t]` over all
  columns compared (infinite when `o` never reaches the target, or when no column does).
  The profile `rho_o(tau) = (1 / #tasks) * #{t : r[o, t] <= tau}` for `tau` in
  `[1, r_max]`.
- **Integrated score**: the area under the profile, normalized by `r_max - 1`:
  `(1 / (r_max - 1)) * integral_1^r_max rho_o(tau) dtau`
  `= (1 / #tasks) * sum_t max(0, r_max - r[o, t]) / (r_max - 1)`, computed exactly (a
  step function). 1 means fastest on every task; 0 means never within `r_max` of the best.
- **Speedup over the reference** on a task: `steps[ref, t] / steps[o, t]` (0 when `o`
  never reaches the target). Across tasks we report the **IQM**: the mean of the values
  left after dropping the lowest and the highest `floor(n / 4)` of the `n` tasks.
- **Per-run scores with confidence intervals** (as Celo reports them; Agarwal et al., Deep
  RL at the Edge of the Statistical Precipice, arXiv:2108.13264): each reported run (seed)
  of a column gets its own speedup, `steps[ref, t]` over the steps at which *that run's*
  validation curve reaches the target, and its own **final-loss ratio**, its final
  validation loss over the target (non-finite: `RATIO_CAP`). The IQM over all runs x tasks
  and its 95% stratified-bootstrap confidence interval (runs resampled within each task)
  come from the `rliable` library.
"""

from __future__ import annotations

import warnings

import numpy as np

RATIO_CAP = 100.0  # the final-loss ratio a diverged (non-finite) run counts as
BOOTSTRAP_REPS = 2000


def steps_to_target(median_curve: np.ndarray, steps: np.ndarray, target: float) -> float:
  """The first of `steps` at which `median_curve <= target` (NaN never is); inf if none."""
  reached = np.nonzero(np.asarray(median_curve) <= target)[0]
  return float(steps[reached[0]]) if len(reached) else float("inf")


def ratios(times: np.ndarray) -> np.ndarray:
  """Performance ratios `times / best per task` of a [optimizers, tasks] array of times."""
  times = np.asarray(times, float)
  best = np.min(times, axis=0, keepdims=True)
  with np.errstate(invalid="ignore", divide="ignore"):
    out = times / best
  return np.where(np.isfinite(best) & np.isfinite(times), out, np.inf)


def profile(ratio: np.ndarray, taus: np.ndarray) -> np.ndarray:
  """`rho(tau)` per optimizer: [optimizers, len(taus)] fractions of tasks with ratio <= tau."""
  return np.mean(np.asarray(ratio)[:, None, :] <= np.asarray(taus)[None, :, None], axis=-1)


def integrated_score(ratio: np.ndarray, r_max: float = 4.0) -> np.ndarray:
  """Area under each optimizer's profile on [1, r_max], divided by `r_max - 1`."""
  ratio = np.asarray(ratio, float)
  return np.mean(np.clip(r_max - ratio, 0.0, None) / (r_max - 1.0), axis=-1)


def speedups(times: np.ndarray, reference: np.ndarray) -> np.ndarray:
  """`reference / times` per task; 0 where `times` is infinite (never reached)."""
  times = np.asarray(times, float)
  with np.errstate(divide="ignore"):
    return np.where(np.isfinite(times), np.asarray(reference, float) / times, 0.0)


def iqm(values: np.ndarray) -> float:
  """Interquartile mean: the mean after dropping the lowest and highest floor(n/4) values."""
  x = np.sort(np.asarray(values, float))
  k = len(x) // 4
  return float(np.mean(x[k : len(x) - k]))


def run_speedups(
  curves: np.ndarray, steps: np.ndarray, target: float, ref_steps: float
) -> np.ndarray:
  """Per run (rows of `curves`, validation losses at `steps`): `ref_steps` / its steps to
  `target` (0 if never reached)."""
  times = np.array([steps_to_target(c, steps, target) for c in np.asarray(curves, float)])
  return speedups(times, np.full(len(times), ref_steps))


def final_ratios(finals: np.ndarray, target: float) -> np.ndarray:
  """Per run, final validation loss / `target`; non-finite counts as `RATIO_CAP`."""
  with np.errstate(invalid="ignore", divide="ignore"):
    r = np.asarray(finals, float) / target
  return np.where(np.isfinite(r), np.minimum(r, RATIO_CAP), RATIO_CAP)


def iqm_with_ci(
  scores: dict[str, np.ndarray], reps: int = BOOTSTRAP_REPS, seed: int = 0
) -> dict[str, tuple[float, float, float]]:
  """Per column, the IQM of a [runs, tasks] score matrix over all its entries and the 95%
  stratified-bootstrap confidence interval: `(iqm, low, high)`, computed by `rliable`."""
  from rliable import library, metrics  # imported here: only reports need it

  # rliable's stratified resampling draws from numpy's global generator (whatever
  # random_state says): seed it for a reproducible report, and give it back unchanged.
  saved = np.random.get_state()  # noqa: NPY002  (the legacy generator rliable draws from)
  np.random.seed(seed)  # noqa: NPY002
  try:
    with warnings.catch_warnings():  # arch deprecates the RandomState rliable passes it
      warnings.simplefilter("ignore", FutureWarning)
      point, interval = library.get_interval_estimates(
        scores,
        lambda x: np.array([metrics.aggregate_iqm(x)]),
        reps=reps,
        random_state=np.random.RandomState(seed),
      )
  finally:
    np.random.set_state(saved)  # noqa: NPY002
  return {
    k: (float(point[k][0]), float(interval[k][0, 0]), float(interval[k][1, 0])) for k in scores
  }
