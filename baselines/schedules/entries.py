"""Registry entries of the learning-rate schedules (inventory T5-26 to T5-31, T5-40 to
T5-42).

Schedules are registered as the optimizers that use them (AdamW or SGD under the schedule,
with `num_steps` / `warmup_steps` hyperparameters): linear decay, warmup + cosine, Adafactor's
relative step, the schedules refined from observed gradient norms, AdAdaGrad's batch-size
tests. Hyperparameter searches and scaling rules are registered as not applicable, with the
reason. The entry format is in the module docstring of `baselines.registry`.
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
# Not optimizer steps: hyperparameter searches and scaling rules.
# --------------------------------------------------------------------------------------------

_NOT_APPLICABLE = (
  (
    "autolrs",
    ("T5-31",),
    "a hyperparameter search around training, not an update rule: every tau steps it "
    "snapshots the model, trains tau' steps under each Bayesian-optimization candidate LR, "
    "restores the snapshot and picks the LR from validation losses extrapolated by an "
    "exponential model; the chosen LR feeds any registered optimizer",
  ),
  (
    "batch_size_lr_scaling_rules",
    ("T5-41",),
    "rules that set hyperparameters before training (SGD: LR ∝ B; Adam/RMSprop: LR ∝ √B; "
    "sign-like methods: optimal LR rises then falls with B; β2 half-life in tokens kept fixed "
    "for small batches; Step Law power laws for LR and B), not an update rule; they choose "
    "the arguments of the registered optimizers",
  ),
  (
    "cehpo",
    ("T5-42",),
    "a hyperparameter-optimization procedure (the cross-entropy method over optimizer "
    "hyperparameters such as Adam's, scored on validation loss across training runs), not an "
    "update rule",
  ),
)
for _name, _ids, _reason in _NOT_APPLICABLE:
  register(
    Entry(
      name=_name,
      factory=None,
      defaults={},
      search_space={},
      ids=_ids,
      tier=5,
      source="project",
      status="not-applicable",
      reason=_reason,
    )
  )
