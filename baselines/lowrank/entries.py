"""Registry entries of the low-rank, subspace and block methods (inventory T2-11 to T2-21).

GaLore is optax's own; the others live in their own `_<name>.py` files beside this one, on
the shared toolkit `baselines.lowrank.projection` (projectors, refresh, Haar wavelets, block
selection). The entry format is in the module docstring of `baselines.registry`.
"""

from __future__ import annotations

import math

import optax.contrib

from baselines.lowrank._apollo import apollo, apollo_mini
from baselines.lowrank._badam import badam
from baselines.lowrank._fira import fira
from baselines.lowrank._frugal import frugal
from baselines.lowrank._gwt import gwt
from baselines.lowrank._lisa import lisa
from baselines.lowrank._online_subspace_descent import online_subspace_descent
from baselines.lowrank._subspace_momentum import subspace_momentum
from baselines.registry import Choice, Entry, LogRange, register

_LR = LogRange(1e-4, 1e-1)
_FT_LR = LogRange(1e-5, 1e-1)
_SCALE = LogRange(0.1, 1.0)

register(
  Entry(
    name="galore",
    factory=optax.contrib.galore,
    defaults={
      "learning_rate": 1e-2,
      "rank": 128,
      "update_proj_gap": 200,
      "scale": 0.25,
      "weight_decay": 0.0,
    },
    search_space={"learning_rate": _LR, "scale": _SCALE},
    ids=("T2-12",),
    tier=2,
    source="optax",
    paper="Zhao et al., GaLore: Memory-Efficient LLM Training by Gradient Low-Rank Projection, "
    "arXiv:2403.03507",
  )
)
register(
  Entry(
    name="subspace_momentum",
    factory=subspace_momentum,
    defaults={"learning_rate": 1e-1, "rank": 128, "update_interval": 200, "b1": 0.9},
    search_space={"learning_rate": LogRange(1e-3, 1.0), "b1": Choice((0.9, 0.95))},
    ids=("T2-11",),
    tier=2,
    paper="Nguyen & Nguyen, Efficient Adaptive Optimization via Subset-Norm and "
    "Subspace-Momentum: Fast, Memory-Reduced Training with Convergence Guarantees, "
    "arXiv:2411.07120",
    reference="paper (Nguyen & Nguyen, Subspace-Momentum: momentum in the top-r SVD subspace, the "
    "plain gradient in its complement).",
  )
)
register(
  Entry(
    name="online_subspace_descent",
    factory=online_subspace_descent,
    defaults={"learning_rate": 1e-2, "rank": 128, "proj_lr": 0.1, "scale": 0.25},
    search_space={"learning_rate": _LR, "proj_lr": LogRange(1e-2, 1.0), "scale": _SCALE},
    ids=("T2-13",),
    tier=2,
    paper="Liang et al., Memory-Efficient LLM Training with Online Subspace Descent, "
    "arXiv:2408.12857",
    reference="paper's algorithm (Liang et al., Online Subspace Descent: P moved by one "
    "online-PCA gradient step per step, Adam in the subspace). Kept: the PCA step uses the "
    "normalized gradient (scale-free eta_P); P is not re-orthonormalized.",
  )
)
_APOLLO_REFERENCE = (
  "weight-decay order only (issue 18): the authors' code zhuhanqing/APOLLO@apollo_torch/apollo.py "
  "decays the stepped weights, p <- (p - lr u)(1 - lr wd); kept the decay before the step "
  "(optax's add_decayed_weights), a difference of lr^2 wd u (relative lr wd)"
)

register(
  Entry(
    name="apollo",
    factory=apollo,
    defaults={"learning_rate": 1e-2, "rank": 256, "update_interval": 200, "scale": 1.0},
    search_space={"learning_rate": _LR, "rank": Choice((128, 256, 512))},
    ids=("T2-14",),
    tier=2,
    paper="Zhu et al., APOLLO: SGD-like Memory, AdamW-level Performance, arXiv:2412.05270",
    reference=_APOLLO_REFERENCE,
  )
)
register(
  Entry(
    name="apollo_mini",
    factory=apollo_mini,
    defaults={"learning_rate": 1e-2, "update_interval": 200, "scale": math.sqrt(128.0)},
    search_space={"learning_rate": _LR, "scale": LogRange(1.0, 32.0)},
    ids=("T2-15",),
    tier=2,
    paper="Zhu et al., APOLLO: SGD-like Memory, AdamW-level Performance, arXiv:2412.05270",
    reference=_APOLLO_REFERENCE,
  )
)
register(
  Entry(
    name="frugal",
    factory=frugal,
    defaults={
      "learning_rate": 1e-3,
      "density": 0.25,
      "update_interval": 200,
      "projection": "block",
      "state_free": "signsgd",
      "state_free_scale": 1.0,
    },
    search_space={
      "learning_rate": _FT_LR,
      "projection": Choice(("block", "svd", "random")),
      "state_free_scale": Choice((0.1, 1.0)),
    },
    ids=("T2-16",),
    tier=2,
    paper="Zmushko et al., FRUGAL: Memory-Efficient Optimization by Reducing State Overhead "
    "for Scalable Training, arXiv:2411.07837",
    reference="paper's algorithm (Zmushko et al., FRUGAL: Adam on a state-full subspace (blocks, "
    "SVD or random), signSGD on the rest, state reset at each refresh).",
  )
)
register(
  Entry(
    name="fira",
    factory=fira,
    defaults={"learning_rate": 1e-2, "rank": 128, "update_interval": 200, "scale": 0.25},
    search_space={"learning_rate": _LR, "scale": _SCALE},
    ids=("T2-17",),
    tier=2,
    paper="Chen et al., Fira: Can We Achieve Full-rank Training of LLMs Under Low-rank "
    "Constraint?, arXiv:2410.01623",
    reference="paper's algorithm (Chen et al., Fira: GaLore-Adam in the subspace, residual scaled "
    "by the per-channel ratio phi, norm-growth limiter gamma 1.01). Kept: the residual is the "
    "paper's G - P R; the authors' code subtracts alpha P R.",
  )
)
register(
  Entry(
    name="gwt",
    factory=gwt,
    defaults={"learning_rate": 1e-2, "levels": 2, "scale": 0.25},
    search_space={"learning_rate": _LR, "levels": Choice((1, 2, 3)), "scale": _SCALE},
    ids=("T2-18",),
    tier=2,
    paper="Wen et al., Breaking Memory Limits: Gradient Wavelet Transform Enhances LLMs "
    "Training, arXiv:2501.07237",
    reference="paper's algorithm (Wen et al., GWT: Adam on the Haar approximation coefficients, "
    "details normalized by the same second moment). Kept: bias correction as a step size (the "
    "GaLore code GWT builds on); for more than one level each detail uses the covering "
    "approximation's moment.",
  )
)
register(
  Entry(
    name="gradnormlorp",
    factory=optax.contrib.galore,
    defaults={
      "learning_rate": 1e-3,
      "rank": 256,
      "update_proj_gap": 200,
      "scale": 1.0,
      "weight_decay": 0.0,
    },
    search_space={"learning_rate": _LR, "scale": _SCALE},
    ids=("T2-19",),
    tier=2,
    source="optax",
    paper="Huang et al., Gradient Weight-normalized Low-rank Projection for Efficient LLM "
    "Training, arXiv:2412.19616. The method is this optimizer on the parameters of "
    "tasks.GradNormLoRP(task, rank=r): W = m (W0 + I J) / ||W0 + I J||_c with W0 frozen; "
    "GaLore's projection (T2-12) of the gradients of the 2-D leaves I and J, Adam on m, "
    "biases and other vectors; on an unwrapped task it is GaLore",
    reference="paper's formula (Huang et al., eq. W = M (W0 + IJ)/||W0 + IJ||_c, gradients of "
    "the trainable matrices projected to a low-rank subspace), defaults of the authors' "
    "WeightNormGaLoreAdamW (lr 1e-3, rank 256, gap 200, scale 1). Kept: GaLore's one-sided "
    "projection (optax's) instead of the paper's two-sided U (U^T D V) V^T. Not followed: the "
    "authors' code Jhhuangkay/Gradient-Weight-normalized-Low-rank-Projection-for-Efficient-LLM-"
    "Training@GradNormLoRP/wadamw.py + weight_norm_galore.py splits each full weight into a "
    "per-row magnitude and a full-size direction (no I J, no frozen W0), GaLore-projects the "
    "direction's gradient, and never writes the result back into the model (its reconstruction "
    "is commented out).",
  )
)
register(
  Entry(
    name="badam",
    factory=badam,
    defaults={"learning_rate": 1e-5, "switch_every": 100, "order": "random"},
    search_space={"learning_rate": _FT_LR, "switch_every": Choice((50, 100))},
    ids=("T2-20",),
    tier=2,
    paper="Luo et al., BAdam: A Memory Efficient Full Parameter Optimization Method for Large "
    "Language Models, arXiv:2404.02827",
    reference="paper Alg. 1 (Luo et al., BAdam: K Adam steps per block, random reshuffling per "
    "block-epoch, the optimizer state dropped at each switch). Kept: moments of every block stay "
    "allocated (static shapes under jit).",
  )
)
register(
  Entry(
    name="lisa",
    factory=lisa,
    defaults={"learning_rate": 1e-5, "num_active": 2, "period": 20},
    search_space={"learning_rate": _FT_LR, "num_active": Choice((1, 2, 4))},
    ids=("T2-21",),
    tier=2,
    paper="Pan et al., LISA: Layerwise Importance Sampling for Memory-Efficient Large "
    "Language Model Fine-Tuning, arXiv:2403.17919",
    reference="paper Alg. 1 (Pan et al., LISA: gamma layers drawn uniformly every K steps, "
    "embeddings and head always trained via layer_fn = -1, AdamW per trained leaf with its own "
    "step count).",
  )
)
