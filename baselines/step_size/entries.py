"""Registry entries of the methods that set their own step size (inventory T5-32 to
T5-39), and the learning-rate-free peers optax.contrib ships.

D-Adaptation, DoG / DoWG / L-DoG and Prodigy estimate the distance to the solution on the
fly; SPS, MoMo, preconditioned SPS and SANIA take Polyak steps from the loss value;
Schedule-Free AdamW replaces the schedule by an average of the iterates. Methods optax ships
are registered with optax's own function (or a thin factory fixing its arguments); the rest
live in their own `_<name>.py` files beside this one. The entry format is in the module
docstring of `baselines.registry`.
"""

from __future__ import annotations

import jax
import optax
import optax.contrib

from baselines.registry import Choice, Entry, LogRange, register
from baselines.step_size._dadapt_sgd import dadapt_sgd
from baselines.step_size._psps import psps
from baselines.step_size._sania import sania

_LR = LogRange(1e-4, 1.0)
_ADAPTIVE_LR = LogRange(1e-5, 1e-1)
_LR_FREE = LogRange(1e-2, 10.0)  # multiplier of a learning-rate-free step (1.0 in the papers)

_DADAPT = "Defazio & Mishchenko, Learning-Rate-Free Learning by D-Adaptation, arXiv:2301.07733"

_DOG = (
  "Ivgi, Hinder & Carmon, DoG is SGD's Best Friend: A Parameter-Free Dynamic Step Size "
  "Schedule, arXiv:2302.12022"
)

_MOMO = (
  "Schaipp, Ohana, Eickenberg, Defazio & Gower, MoMo: Momentum Models for Adaptive Learning "
  "Rates, arXiv:2305.07583"
)

_PSPS = (
  "Abdukhakimov, Xiang, Kamzolov & Takáč, Stochastic Gradient Descent with Preconditioned "
  "Polyak Step-size, arXiv:2310.02093"
)

_SANIA = (
  "Abdukhakimov, Xiang, Kamzolov, Gower & Takáč, SANIA: Polyak-type Optimization Framework "
  "Leads to Scale Invariant Stochastic Algorithms, arXiv:2312.17369"
)


def ldog(
  learning_rate: optax.ScalarOrSchedule = 1.0, reps_rel: float = 1e-6, eps: float = 1e-8
) -> optax.GradientTransformation:
  """L-DoG, layer-wise DoG: `optax.scale_by_distance_over_gradients` then the learning rate.

  optax's transform returns float32 updates (its `param_dtype`); they are cast back to the
  gradients' dtypes so that bfloat16 parameters stay bfloat16.
  """
  inner = optax.chain(
    optax.scale_by_distance_over_gradients(reps_rel=reps_rel, eps=eps),
    optax.scale_by_learning_rate(learning_rate),
  )

  def update_fn(updates, state, params=None):
    out, state = inner.update(updates, state, params)
    return jax.tree.map(lambda u, g: u.astype(g.dtype), out, updates), state

  return optax.GradientTransformation(inner.init, update_fn)


# --------------------------------------------------------------------------------------------
# Shipped by optax: registered, never re-implemented.
# --------------------------------------------------------------------------------------------

register(
  Entry(
    name="dadapt_adamw",
    factory=optax.contrib.dadapt_adamw,
    defaults={"learning_rate": 1.0, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0},
    search_space={"learning_rate": _LR_FREE},
    ids=("T5-32",),
    tier=5,
    source="optax",
    paper=_DADAPT,
  )
)
register(
  Entry(
    name="dog",
    factory=optax.contrib.dog,
    defaults={"learning_rate": 1.0, "eps": 1e-8},
    search_space={"learning_rate": _LR_FREE},
    ids=("T5-33",),
    tier=5,
    source="optax",
    paper=_DOG,
  )
)
register(
  Entry(
    name="dowg",
    factory=optax.contrib.dowg,
    defaults={"learning_rate": 1.0, "eps": 1e-4},
    search_space={"learning_rate": _LR_FREE},
    ids=("T5-33",),
    tier=5,
    source="optax",
    paper="Khaled, Mishchenko & Jin, DoWG Unleashed: An Efficient Universal Parameter-Free "
    "Gradient Descent Method, arXiv:2305.16284",
  )
)
register(
  Entry(
    name="ldog",
    factory=ldog,
    defaults={"learning_rate": 1.0, "reps_rel": 1e-6, "eps": 1e-8},
    search_space={"learning_rate": _LR_FREE},
    ids=("T5-34",),
    tier=5,
    source="optax",
    paper=_DOG,
  )
)
register(
  Entry(
    name="momo",
    factory=optax.contrib.momo,
    defaults={"learning_rate": 1.0, "beta": 0.9, "lower_bound": 0.0, "weight_decay": 0.0},
    search_space={"learning_rate": _LR_FREE, "adapt_lower_bound": Choice((False, True))},
    needs=("grad", "value"),
    ids=("T5-35",),
    tier=5,
    source="optax",
    paper=_MOMO,
  )
)
register(
  Entry(
    name="momo_adam",
    factory=optax.contrib.momo_adam,
    defaults={"learning_rate": 1e-2, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "lower_bound": 0.0},
    search_space={"learning_rate": LogRange(1e-4, 1.0), "adapt_lower_bound": Choice((False, True))},
    needs=("grad", "value"),
    ids=("T5-36",),
    tier=5,
    source="optax",
    paper=_MOMO,
  )
)
register(
  Entry(
    name="sps",
    factory=optax.polyak_sgd,
    defaults={"max_learning_rate": 1.0, "scaling": 1.0, "f_min": 0.0},
    search_space={"max_learning_rate": LogRange(1e-2, 10.0), "scaling": LogRange(0.1, 1.0)},
    needs=("grad", "value"),
    ids=("T5-37",),
    tier=5,
    source="optax",
    paper="Loizou, Vaswani, Laradji & Lacoste-Julien, Stochastic Polyak Step-size for SGD: An "
    "Adaptive Learning Rate for Fast Convergence, arXiv:2002.10542",
  )
)
register(
  Entry(
    name="prodigy",
    factory=optax.contrib.prodigy,
    defaults={
      "learning_rate": 1.0,
      "betas": (0.9, 0.999),
      "beta3": None,
      "eps": 1e-8,
      "estim_lr0": 1e-6,
      "estim_lr_coef": 1.0,
      "weight_decay": 0.0,
      "safeguard_warmup": False,
    },
    search_space={"learning_rate": _LR_FREE},
    source="optax",
    paper="Mishchenko & Defazio, Prodigy: An Expeditiously Adaptive Parameter-Free Learner, "
    "arXiv:2306.06101",
  )
)
# Schedule-Free AdamW trains the point y where gradients are taken; the paper evaluates the
# averaged point x = optax.contrib.schedule_free_eval_params(state, params). The comparison
# suite and `tasks.train` evaluate the parameters being trained (y): they have no hook that
# maps the optimizer state to an evaluation point, so their validation and test losses for
# this entry are y's (its training losses are y's in any case).
register(
  Entry(
    name="schedule_free_adamw",
    factory=optax.contrib.schedule_free_adamw,
    defaults={
      "learning_rate": 0.0025,
      "warmup_steps": None,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-8,
      "weight_decay": 0.0,
      "weight_lr_power": 2.0,
    },
    search_space={"learning_rate": _ADAPTIVE_LR},
    source="optax",
    paper="Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, The Road Less Scheduled, "
    "arXiv:2405.15682",
  )
)


# --------------------------------------------------------------------------------------------
# Written here, one file each.
# --------------------------------------------------------------------------------------------

register(
  Entry(
    name="dadapt_sgd",
    factory=dadapt_sgd,
    defaults={"learning_rate": 1.0, "d0": 1e-6, "weight_decay": 0.0},
    search_space={"learning_rate": _LR_FREE},
    ids=("T5-32",),
    tier=5,
    source="project",
    paper=_DADAPT,
    reference="paper's D-Adapted SGD (lambda_k = lr d_k / |g_0|, s accumulates lambda g, d = "
    "max(d, min(d_hat, growth d))); defaults and coupled L2 decay as the authors' code "
    "facebookresearch/dadaptation@dadaptation/dadapt_sgd.py. Kept: the paper's d_hat = (|s|^2 - "
    "sum lambda^2 |g|^2) / (2 |s|); the authors' current code drops the 2 (an estimate up to 2x "
    "larger); no momentum.",
  )
)
for _pre, _needs in (
  ("hutchinson", ("grad", "value", "value_fn", "key")),
  ("adam", ("grad", "value")),
  ("adagrad", ("grad", "value")),
):
  register(
    Entry(
      name=f"psps_{_pre}",
      factory=psps,
      defaults={"learning_rate": 1.0, "preconditioner": _pre, "b2": 0.999, "f_star": 0.0},
      search_space={"learning_rate": _LR_FREE},
      needs=_needs,
      ids=("T5-38",),
      tier=5,
      source="project",
      paper=_PSPS,
      reference="paper (Abdukhakimov et al., PSPS: gamma = [f - f*]_+ / (g^T B^-1 g) with B the "
      "AdaGrad, bias-corrected Adam or Hutchinson diagonal). Kept: the Hutchinson D_0 is the "
      "first sample.",
    )
  )
for _pre, _needs in (
  ("adagrad_sqr", ("grad", "value")),
  ("adam_sqr", ("grad", "value")),
  ("hutchinson", ("grad", "value", "value_fn", "key")),
):
  register(
    Entry(
      name=f"sania_{_pre}",
      factory=sania,
      defaults={"learning_rate": 1.0, "preconditioner": _pre, "b2": 0.999, "f_star": 0.0},
      search_space={"learning_rate": _LR_FREE, "eps": LogRange(1e-8, 1e-1)},
      needs=_needs,
      ids=("T5-39",),
      tier=5,
      source="project",
      paper=_SANIA,
      reference="paper (Abdukhakimov et al., SANIA: tau = 1 - sqrt(1 - 2c), c = [f - f*]_+ / "
      "(g^T B^-1 g), B the squared AdaGrad / Adam or the Hutchinson diagonal floored at eps; "
      "tau = 1 when there is no root).",
    )
  )
