"""Registry entries of the learning-rate schedules (inventory T5-26 to T5-31, T5-40 to
T5-42).

Schedules are registered as the optimizers that use them (AdamW or SGD under the schedule,
with `num_steps` / `warmup_steps` hyperparameters): linear decay, warmup + cosine, Adafactor's
relative step, the schedules refined from observed gradient norms, AdAdaGrad's batch-size
tests. Hyperparameter searches (AutoLRS, CEHPO: tuners of the comparison suite) and the
batch-size scaling rules are registered as procedures, naming the function that implements
them. The entry format is in the module docstring of `baselines.registry`.
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from baselines.registry import Choice, Entry, LogRange, register
from baselines.schedules._refined_schedule import adamw_refined, sgd_refined

_LR = LogRange(1e-4, 1.0)
_ADAPTIVE_LR = LogRange(1e-5, 1e-1)
_WD = LogRange(1e-4, 1e-1)

_REFINEMENT = (
  "Defazio, Cutkosky, Mehta & Mishchenko, When, Why and How Much? Adaptive Learning Rate "
  "Scheduling by Refinement, arXiv:2310.07831"
)


# --------------------------------------------------------------------------------------------
# Schedules built from optax's own schedules (thin factories fixing optax arguments).
# --------------------------------------------------------------------------------------------


def warmup_linear_decay_schedule(
  peak_value: float, num_steps: int, warmup_steps: int = 0
) -> optax.Schedule:
  """Linear warmup 0 -> peak over `warmup_steps`, then linear decay to 0 at `num_steps`."""
  if not 0 <= warmup_steps < num_steps:
    raise ValueError(f"Need 0 <= warmup_steps < num_steps, got {warmup_steps}, {num_steps}.")
  decay = optax.linear_schedule(peak_value, 0.0, num_steps - warmup_steps)
  if warmup_steps == 0:
    return decay
  warmup = optax.linear_schedule(0.0, peak_value, warmup_steps)
  return optax.join_schedules([warmup, decay], [warmup_steps])


def adamw_linear_decay(
  learning_rate: float,
  num_steps: int = 1000,
  warmup_steps: int = 0,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 1e-4,
) -> optax.GradientTransformation:
  """AdamW with (optional linear warmup and) linear decay to zero, η_t ∝ 1 - t/T."""
  sched = warmup_linear_decay_schedule(learning_rate, num_steps, warmup_steps)
  return optax.adamw(sched, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)


def adamw_cosine(
  learning_rate: float,
  num_steps: int = 1000,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 1e-4,
) -> optax.GradientTransformation:
  """AdamW under a cosine decay to zero, η_t = η (1 + cos(π t / T)) / 2, no warmup.

  Unlike `adamw_warmup_cosine`, the learning rate may be traced, so a learning-rate grid is
  one vmapped program (`baselines.suite.sweep`)."""
  return optax.adamw(
    optax.cosine_decay_schedule(learning_rate, num_steps),
    b1=b1,
    b2=b2,
    eps=eps,
    weight_decay=weight_decay,
  )


def sgd_linear_decay(
  learning_rate: float,
  num_steps: int = 1000,
  warmup_steps: int = 0,
  momentum: float | None = 0.9,
) -> optax.GradientTransformation:
  """SGD (heavy-ball momentum) with (optional linear warmup and) linear decay to zero."""
  sched = warmup_linear_decay_schedule(learning_rate, num_steps, warmup_steps)
  return optax.sgd(sched, momentum=momentum)


def adamw_warmup_cosine(
  learning_rate: float,
  num_steps: int = 1000,
  warmup_steps: int = 100,
  end_value: float = 0.0,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 1e-4,
) -> optax.GradientTransformation:
  """AdamW under `optax.warmup_cosine_decay_schedule` (linear warmup, cosine annealing)."""
  sched = optax.warmup_cosine_decay_schedule(
    0.0, learning_rate, warmup_steps, num_steps, end_value=end_value
  )
  return optax.adamw(sched, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)


def sgd_cosine(
  learning_rate: float, num_steps: int = 1000, momentum: float | None = 0.9
) -> optax.GradientTransformation:
  """SGD (heavy-ball momentum) under `optax.cosine_decay_schedule`."""
  return optax.sgd(optax.cosine_decay_schedule(learning_rate, num_steps), momentum=momentum)


def adafactor_relative_step(
  learning_rate: float = 1e-2, decay_rate: float = 0.8, clipping_threshold: float = 1.0
) -> optax.GradientTransformation:
  """Adafactor's relative step size ρ_t = min(learning_rate, 1/sqrt(t)), scaled by the
  parameter RMS (`multiply_by_parameter_scale`), with increasing β2_t = 1 - t^(-decay_rate)."""
  # ρ_t with t = count + 1 (optax schedules see the 0-based count).
  sched = lambda count: jnp.minimum(learning_rate, jnp.sqrt(1.0 / (count + 1.0)))
  return optax.adafactor(
    sched,
    decay_rate=decay_rate,
    multiply_by_parameter_scale=True,
    clipping_threshold=clipping_threshold,
  )


register(
  Entry(
    name="adamw_linear_decay",
    factory=adamw_linear_decay,
    defaults={"learning_rate": 1e-3, "num_steps": 1000, "warmup_steps": 0, "weight_decay": 1e-4},
    search_space={"learning_rate": _ADAPTIVE_LR, "weight_decay": _WD},
    ids=("T5-26",),
    tier=5,
    source="optax",
    paper=_REFINEMENT,
  )
)
register(
  Entry(
    name="adamw_cosine",
    factory=adamw_cosine,
    defaults={"learning_rate": 1e-3, "num_steps": 1000, "weight_decay": 1e-4},
    search_space={"learning_rate": _ADAPTIVE_LR, "weight_decay": _WD},
    ids=("T5-29",),
    tier=5,
    source="optax",
    paper="Loshchilov & Hutter, SGDR: Stochastic Gradient Descent with Warm Restarts, "
    "arXiv:1608.03983",
  )
)
register(
  Entry(
    name="sgd_linear_decay",
    factory=sgd_linear_decay,
    defaults={"learning_rate": 0.1, "num_steps": 1000, "warmup_steps": 0, "momentum": 0.9},
    search_space={"learning_rate": _LR},
    ids=("T5-26",),
    tier=5,
    source="optax",
    paper=_REFINEMENT,
  )
)
register(
  Entry(
    name="adamw_warmup_cosine",
    factory=adamw_warmup_cosine,
    defaults={"learning_rate": 1e-3, "num_steps": 1000, "warmup_steps": 100, "weight_decay": 1e-4},
    search_space={
      "learning_rate": _ADAPTIVE_LR,
      "warmup_steps": Choice((0, 50, 100, 200)),
      "weight_decay": _WD,
    },
    ids=("T5-28", "T5-29"),
    tier=5,
    source="optax",
    paper="Liu et al., On the Variance of the Adaptive Learning Rate and Beyond, "
    "arXiv:1908.03265 (warmup); Loshchilov & Hutter, SGDR, arXiv:1608.03983 (cosine)",
  )
)
register(
  Entry(
    name="sgd_cosine",
    factory=sgd_cosine,
    defaults={"learning_rate": 0.1, "num_steps": 1000, "momentum": 0.9},
    search_space={"learning_rate": _LR},
    ids=("T5-29",),
    tier=5,
    source="optax",
    paper="Loshchilov & Hutter, SGDR: Stochastic Gradient Descent with Warm Restarts, "
    "arXiv:1608.03983",
  )
)
register(
  Entry(
    name="adafactor_relative_step",
    factory=adafactor_relative_step,
    defaults={"learning_rate": 1e-2, "decay_rate": 0.8, "clipping_threshold": 1.0},
    search_space={"learning_rate": LogRange(1e-3, 1.0)},
    ids=("T5-30",),
    tier=5,
    source="optax",
    paper="Shazeer & Stern, Adafactor: Adaptive Learning Rates with Sublinear Memory Cost, "
    "arXiv:1804.04235",
  )
)


# --------------------------------------------------------------------------------------------
# Written in this project.
# --------------------------------------------------------------------------------------------

register(
  Entry(
    name="sgd_refined",
    factory=sgd_refined,
    defaults={"learning_rate": 0.1, "grad_norms": None, "num_steps": 1000, "smoothing": 0.0},
    search_space={"learning_rate": _LR},
    ids=("T5-27",),
    tier=5,
    source="project",
    paper=_REFINEMENT,
    reference="paper Alg. 1 (Defazio, Cutkosky, Mehta & Mishchenko: w_t = g_t^-2 sum_{p>t} g_p^-2 "
    "from a previous run's l2 gradient norms, median-filtered with width tau T, normalized to "
    "peak 1). Kept: without logged norms the schedule is linear decay (the rule's limit for "
    "constant norms).",
  )
)
register(
  Entry(
    name="adamw_refined",
    factory=adamw_refined,
    defaults={"learning_rate": 1e-3, "grad_norms": None, "num_steps": 1000, "smoothing": 0.0},
    search_space={"learning_rate": _ADAPTIVE_LR, "weight_decay": _WD},
    ids=("T5-27",),
    tier=5,
    source="project",
    paper=_REFINEMENT,
    reference="paper (the refinement's l1 rule for coordinate-wise methods: w_t = g_t^-1 "
    "sum_{p>t} g_p^-1 from the l1 gradient norms). Kept: without logged norms the schedule is "
    "linear decay.",
  )
)
register(
  Entry(
    name="adadagrad",
    factory=optax.adagrad,
    defaults={"learning_rate": 1e-1, "initial_accumulator_value": 0.1, "eps": 1e-7},
    search_space={"learning_rate": _LR},
    ids=("T5-40",),
    tier=5,
    source="optax",
    paper="Lau, Liu & Kolar, AdAdaGrad: Adaptive Batch Size Schemes for Adaptive Gradient "
    "Methods, arXiv:2402.11215 (update rule: optax.adagrad; the batch-size tests are "
    "baselines.schedules._adadagrad.norm_test_batch_size / inner_product_test_batch_size, "
    "applied by the training loop)",
  )
)


# --------------------------------------------------------------------------------------------
# Not optimizer steps: hyperparameter searches and scaling rules, implemented as procedures.
# --------------------------------------------------------------------------------------------

_PROCEDURES = (
  dict(
    name="autolrs",
    ids=("T5-31",),
    paper="Jin et al., AutoLRS: Automatic Learning-Rate Schedule by Bayesian Optimization "
    "on the Fly, ICLR 2021, arXiv:2105.10762",
    procedure="baselines.suite.autolrs.search: the comparison suite's tuner "
    "`--config.tune.method=autolrs` (a piecewise-constant learning-rate schedule found on "
    "the tuning seeds, rerun on the reported seeds)",
    reference="authors' code YuchenJin/autolrs (autolrs_server.py: 10 candidates per stage, "
    "look-ahead tau/10, both doubling, GP + LCB with kappa 1e6, exponential forecast of the "
    "loss at tau, diverged candidates scored 1e6). Kept: mean training loss over the tuning "
    "seeds instead of the spline outlier filter; stages as fractions of the horizon; no late "
    "switch to validation losses. Tests: tests/test_suite_tuners.py.",
  ),
  dict(
    name="batch_size_lr_scaling_rules",
    ids=("T5-41",),
    paper="Granziol et al., Learning Rates as a Function of Batch Size (JMLR 2022); Malladi "
    "et al., On the SDEs and Scaling Rules for Adaptive Gradient Algorithms (NeurIPS 2022); "
    "Marek et al., Small Batch Size Training for Language Models (2025)",
    procedure="baselines.schedules.batch_scaling.scale_hparams(name, hparams, from_batch=, "
    "to_batch=): SGD linear, Adam / RMSprop square root with the second-moment decay's "
    "half-life in samples kept; the comparison suite applies it with "
    "`--config.tune.batch_size` (tune at that batch size, rerun at the task's)",
    reference="papers' rules (LR proportional to B for SGD, to sqrt(B) for Adam; b2 -> "
    "b2^(B'/B)). Kept: b1, eps and weight decay unchanged (the SDE rule also scales 1 - b1 "
    "and eps); no rule for sign-like methods (the Surge paper: non-monotone in B). Tests: "
    "tests/test_batch_scaling.py.",
  ),
  dict(
    name="cehpo",
    ids=("T5-42",),
    paper="Li & Li, Cross-Entropy Optimization for Hyperparameter Optimization in "
    "Stochastic Gradient-based Approaches to Train Deep Neural Networks, arXiv:2409.09240",
    procedure="baselines.suite.cehpo.search: the comparison suite's tuner "
    "`--config.tune.method=cehpo` (the cross-entropy method over the entry's search space; "
    "the best evaluated setting is rerun on the reported seeds)",
    reference="paper (the CE method with an elite quantile and smoothed refits of a normal "
    "over log values and a categorical over choices; no code is public). Kept: each setting "
    "fixed over a run (the paper adapts during training); population, elite fraction and "
    "smoothing are ours (configs/suite_smoke.py). Tests: tests/test_suite_tuners.py.",
  ),
)
for _kw in _PROCEDURES:
  register(Entry(factory=None, defaults={}, search_space={}, needs=(), tier=5, **_kw))
