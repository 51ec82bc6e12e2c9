"""Registry entries of the layer-wise rules: one step size (or projection) per tensor.

LARS, LAMB and NovoGrad (trust ratios and per-layer moments, inventory Tier 1), AdamP and
SGDP (the radial part of the step removed on scale-invariant weights), SGD-SaI (a per-tensor
scale fixed at the first step) and μP's per-layer learning rates (Tier 5). Methods optax ships
are registered with optax's own function; the rest live in their own `_<name>.py` files beside
this one. The entry format is in the module docstring of `baselines.registry`.
"""

from __future__ import annotations

import optax

from baselines.layerwise._adamp import adamp, sgdp
from baselines.layerwise._mup import mup_adam
from baselines.layerwise._sgd_sai import sgd_sai
from baselines.registry import Entry, LogRange, register

_ADAPTIVE_LR = LogRange(1e-5, 1e-1)
_WD = LogRange(1e-4, 1e-1)


# --------------------------------------------------------------------------------------------
# Shipped by optax: registered, never re-implemented.
# --------------------------------------------------------------------------------------------

register(
  Entry(
    name="lars",
    factory=optax.lars,
    defaults={
      "learning_rate": 1.0,
      "weight_decay": 0.0,
      "trust_coefficient": 1e-3,
      "momentum": 0.9,
    },
    search_space={"learning_rate": LogRange(1e-2, 1e3), "weight_decay": _WD},
    ids=("T1-41",),
    tier=1,
    source="optax",
    paper="You et al., Large Batch Training of Convolutional Networks, arXiv:1708.03888",
  )
)
register(
  Entry(
    name="lamb",
    factory=optax.lamb,
    defaults={"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-6, "weight_decay": 0.01},
    search_space={"learning_rate": _ADAPTIVE_LR, "weight_decay": _WD},
    ids=("T1-42",),
    tier=1,
    source="optax",
    paper="You et al., Large Batch Optimization for Deep Learning: Training BERT in 76 minutes, "
    "arXiv:1904.00962",
  )
)
register(
  Entry(
    name="novograd",
    factory=optax.novograd,
    defaults={"learning_rate": 1e-2, "b1": 0.95, "b2": 0.98, "eps": 1e-8, "weight_decay": 1e-3},
    search_space={"learning_rate": LogRange(1e-4, 1.0), "weight_decay": _WD},
    ids=("T1-43",),
    tier=1,
    source="optax",
    paper="Ginsburg et al., Stochastic Gradient Methods with Layer-wise Adaptive Moments for "
    "Training of Deep Networks, arXiv:1905.11286",
  )
)


# --------------------------------------------------------------------------------------------
# Written here, one file each.
# --------------------------------------------------------------------------------------------

register(
  Entry(
    name="adamp",
    factory=adamp,
    defaults={
      "learning_rate": 1e-3,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-8,
      "weight_decay": 0.0,
      "delta": 0.1,
      "wd_ratio": 0.1,
    },
    search_space={"learning_rate": _ADAPTIVE_LR, "weight_decay": _WD},
    ids=("T1-44",),
    tier=1,
    source="project",
    paper="Heo et al., AdamP: Slowing Down the Slowdown for Momentum Optimizers on "
    "Scale-invariant Weights, arXiv:2006.08217",
    reference="authors' code clovaai/AdamP@adamp/adamp.py (channel view x.view(x.size(0), -1) on "
    "PyTorch's (out, in, ...) layout = the output channel, last axis here (baselines.axes); "
    "issue 18 fixed the axis); no deviation kept",
  )
)
register(
  Entry(
    name="sgdp",
    factory=sgdp,
    defaults={
      "learning_rate": 0.1,
      "momentum": 0.9,
      "eps": 1e-8,
      "weight_decay": 0.0,
      "delta": 0.1,
      "wd_ratio": 0.1,
      "nesterov": False,
    },
    search_space={"learning_rate": LogRange(1e-4, 1.0), "weight_decay": _WD},
    ids=("T1-44",),
    tier=1,
    source="project",
    paper="Heo et al., AdamP: Slowing Down the Slowdown for Momentum Optimizers on "
    "Scale-invariant Weights, arXiv:2006.08217",
    reference="authors' code clovaai/AdamP@adamp/sgdp.py (as adamp; weight decay / "
    "(1 - momentum)); "
    "no deviation kept",
  )
)
register(
  Entry(
    name="sgd_sai",
    factory=sgd_sai,
    defaults={"learning_rate": 1e-2, "momentum": 0.9, "eps": 1e-8, "weight_decay": 1e-2},
    search_space={"learning_rate": LogRange(1e-5, 1e-1), "weight_decay": _WD},
    ids=("T1-45",),
    tier=1,
    source="project",
    paper="Xu et al., No More Adam: Learning Rate Scaling at Initialization is All You Need, "
    "arXiv:2412.11768",
    reference="authors' code AnonymousAlethiometer/SGD_SaI@sgd_sai/sgd_sai.py (g-SNR "
    "||g|| / (std(g) + eps) at the first step, unbiased std; decoupled decay before the step). "
    "Kept: where std(g) = 0 (one-element tensors, constant gradients) the scale is ||g||, the "
    "rule of their v1.0.2 (commented out in v1.0.3, whose nan_to_num(std) gives ||g|| / eps, "
    "a 1e8-fold step)",
  )
)
register(
  Entry(
    name="mup_adam",
    factory=mup_adam,
    defaults={
      "learning_rate": 1e-3,
      "width_mult": 1.0,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-8,
      "weight_decay": 0.0,
    },
    search_space={"learning_rate": _ADAPTIVE_LR},
    ids=("T5-25",),
    tier=5,
    source="project",
    paper="Yang & Littwin, Tensor Programs IVb: Adaptive Optimization in the Infinite-Width "
    "Limit, arXiv:2308.01814; Everett et al., Scaling Exponents Across Parameterizations and "
    "Optimizers, arXiv:2407.05872",
    reference="paper (Yang et al., Tensor Programs V, Adam's muP table: hidden and output weights "
    "lr / width_mult, input weights and vectors lr; Everett et al.: eps scaled by 1 / "
    "width_mult). Kept: without roles every matrix is 'hidden' (the input layer then also gets lr "
    "/ width_mult; mup's MuAdam reads it from infshapes): pass roles. The output layer takes lr / "
    "width_mult with no forward multiplier (the table's form; mup's MuReadout puts 1 / width_mult "
    "in the forward pass instead).",
  )
)
