"""Registry entries of SGD, momentum and sign descent (inventory Tier 1).

Methods optax ships are registered with optax's own function (or a thin factory fixing its
arguments); the rest live in their own `_<name>.py` files beside this one. The entry format
is in the module docstring of `baselines.registry`.
"""

from __future__ import annotations

import math

import optax

from baselines.registry import Choice, Entry, LogRange, register
from baselines.sgd_family._complex_momentum import complex_momentum
from baselines.sgd_family._gravity import gravity
from baselines.sgd_family._normalized_lr_gd import normalized_lr_gd
from baselines.sgd_family._triple_momentum import triple_momentum

_LR = LogRange(1e-4, 1.0)
_SIGN_LR = LogRange(1e-5, 1e-1)


def momentum(learning_rate: optax.ScalarOrSchedule, momentum: float = 0.9):
  """SGD with heavy-ball momentum, `optax.sgd(momentum=...)`: m <- mu m + g; p <- p - lr m."""
  return optax.sgd(learning_rate, momentum=momentum)


def nesterov(learning_rate: optax.ScalarOrSchedule, momentum: float = 0.9):
  """Nesterov momentum, `optax.sgd(nesterov=True)`: m <- mu m + g; p <- p - lr (g + mu m)."""
  return optax.sgd(learning_rate, momentum=momentum, nesterov=True)


def sgdw(
  learning_rate: optax.ScalarOrSchedule,
  momentum: float = 0.9,
  weight_decay: float = 5e-4,
  nesterov: bool = False,
) -> optax.GradientTransformation:
  """SGDW: heavy-ball SGD with decoupled weight decay, from optax pieces.

  m <- mu m + g;  p <- p - lr (m + wd p). The decay is added *after* the momentum, so it
  never enters the momentum buffer (adding it before would be L2 regularization, which
  the paper shows is not the same thing). The decay is scaled by the learning rate, as in
  `optax.adamw`; the paper scales it by the schedule multiplier only.
  """
  return optax.chain(
    optax.trace(decay=momentum, nesterov=nesterov),
    optax.add_decayed_weights(weight_decay),
    optax.scale_by_learning_rate(learning_rate),
  )


# --------------------------------------------------------------------------------------------
# Shipped by optax: registered, never re-implemented.
# --------------------------------------------------------------------------------------------

register(
  Entry(
    name="sgd",
    factory=optax.sgd,
    defaults={"learning_rate": 0.1},
    search_space={"learning_rate": _LR},
    ids=("T1-01",),
    tier=1,
    source="optax",
    paper="Robbins & Monro, A Stochastic Approximation Method (1951)",
  )
)
register(
  Entry(
    name="momentum",
    factory=momentum,
    defaults={"learning_rate": 0.1, "momentum": 0.9},
    search_space={"learning_rate": _LR},
    ids=("T1-02",),
    tier=1,
    source="optax",
    paper="Polyak, Some methods of speeding up the convergence of iteration methods (1964)",
  )
)
register(
  Entry(
    name="nesterov",
    factory=nesterov,
    defaults={"learning_rate": 0.1, "momentum": 0.9},
    search_space={"learning_rate": _LR},
    ids=("T1-03",),
    tier=1,
    source="optax",
    paper="Sutskever et al., On the importance of initialization and momentum in deep learning "
    "(ICML 2013)",
  )
)
register(
  Entry(
    name="lion",
    factory=optax.lion,
    defaults={"learning_rate": 1e-4, "b1": 0.9, "b2": 0.99, "weight_decay": 1e-3},
    search_space={"learning_rate": LogRange(1e-6, 1e-2), "weight_decay": LogRange(1e-4, 1.0)},
    ids=("T1-29",),
    tier=1,
    source="optax",
    paper="Chen et al., Symbolic Discovery of Optimization Algorithms, arXiv:2302.06675",
  )
)
register(
  Entry(
    name="sgdw",
    factory=sgdw,
    defaults={"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 5e-4},
    search_space={"learning_rate": _LR, "weight_decay": LogRange(1e-5, 1e-2)},
    ids=("T1-11",),
    tier=1,
    source="optax",
    paper="Loshchilov & Hutter, Decoupled Weight Decay Regularization, arXiv:1711.05101",
  )
)
register(
  Entry(
    name="sign_sgd",
    factory=optax.sign_sgd,
    defaults={"learning_rate": 1e-3},
    search_space={"learning_rate": _SIGN_LR},
    ids=("T1-30",),
    tier=1,
    source="optax",
    paper="Bernstein et al., signSGD: Compressed Optimisation for Non-Convex Problems, "
    "arXiv:1802.04434",
  )
)
register(
  Entry(
    name="signum",
    factory=optax.signum,
    defaults={"learning_rate": 1e-3, "beta": 0.9},
    search_space={"learning_rate": _SIGN_LR},
    ids=("T1-30",),
    tier=1,
    source="optax",
    paper="Bernstein et al., signSGD: Compressed Optimisation for Non-Convex Problems, "
    "arXiv:1802.04434",
  )
)
register(
  Entry(
    name="rprop",
    factory=optax.rprop,
    defaults={
      "learning_rate": 1e-2,
      "eta_minus": 0.5,
      "eta_plus": 1.2,
      "min_step_size": 1e-6,
      "max_step_size": 50.0,
    },
    search_space={"learning_rate": LogRange(1e-4, 1e-1)},
    ids=("T1-36",),
    tier=1,
    source="optax",
    paper="Riedmiller & Braun, A direct adaptive method for faster backpropagation learning: "
    "the RPROP algorithm (ICNN 1993)",
  )
)


# --------------------------------------------------------------------------------------------
# Written here, one file each.
# --------------------------------------------------------------------------------------------

register(
  Entry(
    name="triple_momentum",
    factory=triple_momentum,
    # Theory-only method: no paper defaults; learning_rate is 1/L, kappa is L/mu.
    defaults={"learning_rate": 0.1, "kappa": 100.0},
    search_space={"learning_rate": _LR, "kappa": LogRange(1.0, 1e4)},
    ids=("T1-04",),
    tier=1,
    source="project",
    paper="Van Scoy, Freeman & Lynch, The Fastest Known Globally Convergent First-Order Method "
    "for Minimizing Strongly Convex Functions, IEEE L-CSS 2018, "
    "https://doi.org/10.1109/LCSYS.2017.2722406",
    reference="paper: the iteration and its coefficients rho, alpha, beta, gamma, delta; no "
    "code released. Kept: the parameters hold y_k (where the gradient is taken), not x_k.",
  )
)
register(
  Entry(
    name="gravity",
    factory=gravity,
    defaults={"learning_rate": 0.1, "alpha": 0.01, "beta": 0.9},
    search_space={"learning_rate": LogRange(1e-3, 1.0), "alpha": LogRange(1e-3, 1e-1)},
    ids=("T1-34",),
    tier=1,
    source="project",
    paper="Bahrami & Zadeh, Gravity Optimizer: a Kinematic Approach on Optimization in Deep "
    "Learning, arXiv:2101.09192",
    reference="authors' code dariush-bahrami/gravity.optimizer@README.md (Keras): zeta, beta_hat "
    "with t = steps before (fixed here: was t + 1), v0 ~ N(0, (alpha/lr)^2). Kept: v0 is drawn "
    "from a fixed seed (init takes no key).",
  )
)
register(
  Entry(
    name="complex_momentum",
    factory=complex_momentum,
    defaults={"learning_rate": 1e-2, "beta_abs": 0.9, "beta_arg": math.pi / 8},
    search_space={
      "learning_rate": LogRange(1e-4, 1.0),
      "beta_arg": Choice((0.0, math.pi / 16, math.pi / 8, math.pi / 4)),
    },
    ids=("T1-40",),
    tier=1,
    source="project",
    paper="Lorraine et al., Complex Momentum for Optimization in Games, arXiv:2102.08431",
    reference="paper's algorithm (mu <- beta mu - g; theta <- theta + Re(alpha mu)). Kept: a "
    "real step size alpha (the paper allows a complex one).",
  )
)
register(
  Entry(
    name="normalized_lr_gd",
    factory=normalized_lr_gd,
    defaults={"learning_rate": 1.0, "eps": 0.0},
    search_space={"learning_rate": LogRange(1e-3, 1e3)},
    needs=("grad", "value"),
    ids=("T1-46",),
    tier=1,
    source="project",
    paper="Tyurin, From Logistic Regression to the Perceptron Algorithm: Exploring Gradient "
    "Descent with Large Step Sizes, arXiv:2412.08424",
    reference="paper's update (theta <- theta - gamma grad f / f). Kept: optional eps added to the "
    "loss, 0 by default (the paper's).",
  )
)
