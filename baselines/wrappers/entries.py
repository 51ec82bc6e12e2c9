"""Registry entries of the wrappers (inventory T5-01 to T5-24).

Transforms that wrap or precede any optax optimizer (lookahead, cautious masks, clipping,
noise, SAM, gradient centralization, ...), registered as canonical compositions with explicit
hyperparameters; the rules optax lacks live in their own `_<name>.py` files beside this one.
The entry format is in the module docstring of `baselines.registry`.
"""

from __future__ import annotations

import optax

from baselines.registry import Choice, Entry, LogRange, register
from baselines.wrappers._adam_cm import adam_cm
from baselines.wrappers._blockwise_lr import blockwise_adamw
from baselines.wrappers._cautious import cautious_adamw, cautious_lion
from baselines.wrappers._fad import fad_adam, fad_sgd
from baselines.wrappers._lawn import lawn_adam, lawn_sgd
from baselines.wrappers._lookahead import lookahead_adam, lookahead_sgd
from baselines.wrappers._nap import nap_adam
from baselines.wrappers._norm_growth_limiter import norm_growth_limited_adamw
from baselines.wrappers._ranger21 import ranger21
from baselines.wrappers._sam import sam_adam, sam_sgd
from baselines.wrappers._sgg import sgg_adamw
from baselines.wrappers._sso import sso
from baselines.wrappers._stable_adamw import stable_adamw
from baselines.wrappers._swats import swats
from baselines.wrappers._ttur import ttur
from baselines.wrappers._variance_freezing import frozen_variance_adam
from baselines.wrappers._xgrad import xgrad_adam, xgrad_momentum

_SGD_LR = LogRange(1e-4, 1.0)
_ADAM_LR = LogRange(1e-5, 1e-1)
_LION_LR = LogRange(1e-6, 1e-2)


def noisy_adam(
  learning_rate: optax.ScalarOrSchedule,
  eta: float = 0.01,
  gamma: float = 0.55,
  key: int = 0,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
) -> optax.GradientTransformation:
  """Annealed Gaussian gradient noise (`optax.add_noise`), then `optax.adam`."""
  return optax.chain(optax.add_noise(eta, gamma, key), optax.adam(learning_rate, b1, b2, eps))


def coord_clip_sgd(
  learning_rate: optax.ScalarOrSchedule, max_delta: float = 1.0, momentum: float = 0.0
) -> optax.GradientTransformation:
  """Coordinate-wise gradient clipping (`optax.clip`), then SGD (momentum optional)."""
  return optax.chain(optax.clip(max_delta), optax.sgd(learning_rate, momentum=momentum or None))


def global_clip_adamw(
  learning_rate: optax.ScalarOrSchedule,
  max_norm: float = 1.0,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 1e-2,
) -> optax.GradientTransformation:
  """Global-norm gradient clipping (`optax.clip_by_global_norm`), then `optax.adamw`."""
  return optax.chain(
    optax.clip_by_global_norm(max_norm),
    optax.adamw(learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay),
  )


def agc_sgd(
  learning_rate: optax.ScalarOrSchedule,
  clipping: float = 0.01,
  eps: float = 1e-3,
  momentum: float = 0.9,
) -> optax.GradientTransformation:
  """Unit-wise adaptive gradient clipping (`optax.adaptive_grad_clip`), then Nesterov SGD."""
  return optax.chain(
    optax.adaptive_grad_clip(clipping, eps),
    optax.sgd(learning_rate, momentum=momentum or None, nesterov=bool(momentum)),
  )


def gc_sgd(learning_rate: optax.ScalarOrSchedule, momentum: float = 0.9):
  """Gradient centralization (`optax.centralize`), then SGD with momentum."""
  return optax.chain(optax.centralize(), optax.sgd(learning_rate, momentum=momentum or None))


def gc_adam(
  learning_rate: optax.ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> optax.GradientTransformation:
  """Gradient centralization (`optax.centralize`), then `optax.adam`."""
  return optax.chain(optax.centralize(), optax.adam(learning_rate, b1, b2, eps))


def grad_accum_adam(
  learning_rate: optax.ScalarOrSchedule,
  every_k: int = 4,
  b1: float = 0.9,
  b2: float = 0.999,
  eps: float = 1e-8,
) -> optax.GradientTransformation:
  """`optax.MultiSteps`: average `every_k` micro-batch gradients, then one Adam step."""
  return optax.MultiSteps(
    optax.adam(learning_rate, b1, b2, eps), every_k_schedule=every_k
  ).gradient_transformation()


_LOOKAHEAD = "Zhang et al., Lookahead Optimizer: k steps forward, 1 step back, arXiv:1907.08610"
_CAUTIOUS = "Liang et al., Cautious Optimizers: Improving Training with One Line of Code, "
_CAUTIOUS += "arXiv:2411.16085"
_NOISE = "Neelakantan et al., Adding Gradient Noise Improves Learning for Very Deep Networks, "
_NOISE += "arXiv:1511.06807"
_SAM = "Foret et al., Sharpness-Aware Minimization for Efficiently Improving Generalization, "
_SAM += "arXiv:2010.01412"
_XGRAD = "Guan et al., XGrad: Boosting Gradient-Based Optimizers With Weight Prediction, "
_XGRAD += "arXiv:2305.18240"
_GC = "Yong et al., Gradient Centralization: A New Optimization Technique for Deep Neural "
_GC += "Networks, arXiv:2004.01461"
_ADAM = {"b1": 0.9, "b2": 0.999, "eps": 1e-8}

for _kw in [
  dict(
    name="lookahead_adam",
    factory=lookahead_adam,
    defaults={"learning_rate": 1e-3, **_ADAM, "sync_period": 5, "slow_step_size": 0.5},
    search_space={"learning_rate": _ADAM_LR, "slow_step_size": LogRange(0.5, 0.8)},
    ids=("T5-01",),
    source="optax",
    paper=_LOOKAHEAD,
  ),
  dict(
    name="lookahead_sgd",
    factory=lookahead_sgd,
    defaults={"learning_rate": 0.1, "momentum": 0.9, "sync_period": 5, "slow_step_size": 0.5},
    search_space={"learning_rate": _SGD_LR, "slow_step_size": LogRange(0.5, 0.8)},
    ids=("T5-01",),
    source="optax",
    paper=_LOOKAHEAD,
  ),
  dict(
    name="cautious_adamw",
    factory=cautious_adamw,
    defaults={"learning_rate": 1e-3, **_ADAM, "weight_decay": 0.0},
    search_space={"learning_rate": _ADAM_LR, "weight_decay": LogRange(1e-4, 1e-1)},
    ids=("T5-02",),
    paper=_CAUTIOUS,
    reference="paper's algorithm (Liang et al.: mask 1[u g > 0], rescale by 1/max(mean mask, "
    "1e-3), on AdamW's direction before weight decay).",
  ),
  dict(
    name="cautious_lion",
    factory=cautious_lion,
    defaults={"learning_rate": 1e-4, "b1": 0.9, "b2": 0.99, "weight_decay": 0.0},
    search_space={"learning_rate": _LION_LR, "weight_decay": LogRange(1e-4, 1.0)},
    ids=("T5-02",),
    paper=_CAUTIOUS,
    reference="paper's algorithm (Liang et al.'s mask and rescale on Lion's sign direction, "
    "decoupled weight decay outside the mask).",
  ),
  dict(
    name="noisy_sgd",
    factory=optax.noisy_sgd,
    defaults={"learning_rate": 0.01, "eta": 0.01, "gamma": 0.55, "key": 0},
    search_space={"learning_rate": _SGD_LR, "eta": LogRange(0.01, 1.0)},
    ids=("T5-03",),
    source="optax",
    paper=_NOISE,
  ),
  dict(
    name="noisy_adam",
    factory=noisy_adam,
    defaults={"learning_rate": 1e-3, "eta": 0.01, "gamma": 0.55, "key": 0, **_ADAM},
    search_space={"learning_rate": _ADAM_LR, "eta": LogRange(0.01, 1.0)},
    ids=("T5-03",),
    source="optax",
    paper=_NOISE,
  ),
  dict(
    name="coord_clip_sgd",
    factory=coord_clip_sgd,
    defaults={"learning_rate": 0.1, "max_delta": 1.0, "momentum": 0.0},
    search_space={"learning_rate": _SGD_LR, "max_delta": LogRange(1e-2, 10.0)},
    ids=("T5-04",),
    source="optax",
    paper="Pan & Li, Toward Understanding Why Adam Converges Faster Than SGD for Transformers, "
    "arXiv:2306.00204",
  ),
  dict(
    name="global_clip_adamw",
    factory=global_clip_adamw,
    defaults={"learning_rate": 1e-3, "max_norm": 1.0, **_ADAM, "weight_decay": 1e-2},
    search_space={"learning_rate": _ADAM_LR, "max_norm": LogRange(0.1, 10.0)},
    ids=("T5-05",),
    source="optax",
    paper="Pascanu et al., On the difficulty of training recurrent neural networks, "
    "arXiv:1211.5063",
  ),
  dict(
    name="norm_growth_limited_adamw",
    factory=norm_growth_limited_adamw,
    defaults={"learning_rate": 1e-3, **_ADAM, "weight_decay": 0.0, "gamma": 1.01},
    search_space={"learning_rate": _ADAM_LR},
    ids=("T5-07",),
    paper="Chen et al., Fira: Can We Achieve Full-rank Training of LLMs Under Low-rank "
    "Constraint?, arXiv:2410.01623",
    reference="paper (Fira's norm-growth limiter, gamma 1.01, per tensor, on AdamW's direction).",
  ),
  dict(
    name="stable_adamw",
    factory=stable_adamw,
    defaults={
      "learning_rate": 2e-3,
      "b1": 0.9,
      "b2": 0.99,
      "eps": 1e-6,
      "weight_decay": 0.2,
      "clip_threshold": 1.0,
    },
    search_space={"learning_rate": _ADAM_LR, "weight_decay": LogRange(1e-3, 1.0)},
    ids=("T5-08",),
    paper="Wortsman et al., Stable and low-precision training for large-scale vision-language "
    "models, arXiv:2304.13013",
    reference="paper (Wortsman et al., StableAdamW: AdamW with Adafactor's update "
    "clipping per tensor, lr / max(1, RMS / d), RMS = sqrt(mean(g^2 / v_hat)); the clipped "
    "rate scales the weight decay too).",
  ),
  dict(
    name="agc_sgd",
    factory=agc_sgd,
    defaults={"learning_rate": 0.1, "clipping": 0.01, "eps": 1e-3, "momentum": 0.9},
    search_space={"learning_rate": _SGD_LR, "clipping": LogRange(1e-3, 0.16)},
    ids=("T5-09",),
    source="optax",
    paper="Brock et al., High-Performance Large-Scale Image Recognition Without Normalization, "
    "arXiv:2102.06171",
  ),
  dict(
    name="gc_sgd",
    factory=gc_sgd,
    defaults={"learning_rate": 0.1, "momentum": 0.9},
    search_space={"learning_rate": _SGD_LR},
    ids=("T5-10",),
    source="optax",
    paper=_GC,
  ),
  dict(
    name="gc_adam",
    factory=gc_adam,
    defaults={"learning_rate": 1e-3, **_ADAM},
    search_space={"learning_rate": _ADAM_LR},
    ids=("T5-10",),
    source="optax",
    paper=_GC,
  ),
  dict(
    name="swats",
    factory=swats,
    defaults={"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-9},
    search_space={"learning_rate": _ADAM_LR},
    ids=("T5-12",),
    paper="Keskar & Socher, Improving Generalization Performance by Switching from Adam to SGD, "
    "arXiv:1712.07628",
    reference="paper Alg. 1 (Keskar & Socher, SWATS: Adam until |lambda_k / (1 - beta_2^k) - "
    "gamma_k| < eps, then SGD with momentum at the estimated rate).",
  ),
  dict(
    name="xgrad_adam",
    factory=xgrad_adam,
    defaults={"learning_rate": 1e-3, **_ADAM, "prediction_steps": 1},
    search_space={"learning_rate": _ADAM_LR},
    needs=("grad", "value_fn"),
    ids=("T5-13",),
    paper=_XGRAD,
    reference="paper's algorithm (XGrad: the gradient at the weights predicted by the optimizer's "
    "own last step, around Adam).",
  ),
  dict(
    name="xgrad_momentum",
    factory=xgrad_momentum,
    defaults={"learning_rate": 0.1, "momentum": 0.9, "prediction_steps": 1},
    search_space={"learning_rate": _SGD_LR},
    needs=("grad", "value_fn"),
    ids=("T5-13",),
    paper=_XGRAD,
    reference="paper's algorithm (XGrad around SGD with momentum).",
  ),
  dict(
    name="sam_sgd",
    factory=sam_sgd,
    defaults={"learning_rate": 0.1, "momentum": 0.9, "rho": 0.05},
    search_space={"learning_rate": _SGD_LR, "rho": LogRange(0.01, 0.5)},
    needs=("grad", "value_fn"),
    ids=("T5-14",),
    source="optax",
    paper=_SAM,
  ),
  dict(
    name="sam_adam",
    factory=sam_adam,
    defaults={"learning_rate": 1e-3, **_ADAM, "rho": 0.05},
    search_space={"learning_rate": _ADAM_LR, "rho": LogRange(0.01, 0.5)},
    needs=("grad", "value_fn"),
    ids=("T5-14",),
    source="optax",
    paper=_SAM,
  ),
  dict(
    name="adam_cm",
    factory=adam_cm,
    defaults={
      "learning_rate": 1e-3,
      **_ADAM,
      "buffer_size": 5,
      "decay": 0.7,
      "kappa": 1.0,
      "weight_decay": 0.0,
    },
    search_space={"learning_rate": _ADAM_LR},
    ids=("T5-16",),
    paper="Malviya et al., Promoting Exploration in Memory-Augmented Adam using Critical "
    "Momenta, arXiv:2307.09638",
    reference="paper's algorithm (Malviya et al., Adam+CM: a buffer of C critical momenta kept by "
    "gradient norm with decay lambda, the update from the buffer-aggregated momentum).",
  ),
  dict(
    name="nap_adam",
    factory=nap_adam,
    defaults={"learning_rate": 6.25e-5, **_ADAM},
    search_space={"learning_rate": _ADAM_LR},
    ids=("T5-18",),
    paper="Lyle et al., Normalization and effective learning rates in reinforcement learning, "
    "arXiv:2407.01800",
    reference="paper (Normalize-and-Project: each weight matrix projected back to its initial "
    "norm after every step, around Adam).",
  ),
  dict(
    name="frozen_variance_adam",
    factory=frozen_variance_adam,
    defaults={"learning_rate": 1e-3, **_ADAM, "freeze_step": 1000},
    search_space={"learning_rate": _ADAM_LR},
    ids=("T5-20",),
    paper="Lu et al., STEP: Learning N:M Structured Sparsity Masks from Scratch with "
    "Precondition, arXiv:2302.01172",
    reference="papers' rule (1-bit Adam's and STEP's variance freezing: v stops after T_w steps, "
    "its bias correction frozen with it).",
  ),
  dict(
    name="ttur",
    factory=ttur,
    defaults={"learning_rate": 3e-4, "ratio": 1.0 / 3.0, "base": "adam", "b1": 0.5},
    search_space={"learning_rate": _ADAM_LR, "ratio": LogRange(0.1, 10.0)},
    ids=("T5-22",),
    paper="Heusel et al., GANs Trained by a Two Time-Scale Update Rule Converge to a Local "
    "Nash Equilibrium, arXiv:1706.08500",
    reference="paper Eq. 3-4 and authors' code bioinf-jku/TTUR (WGAN_GP/gan_64x64_FID.py: "
    "discriminator 1e-4, generator 3e-4, the defaults here; Toy_Data_Example: the saddle "
    "game of tasks.games.Saddle). One optimizer per player over the game's simultaneous "
    "gradient (tasks.games.simultaneous_grad, train_game); on a one-player problem it is "
    "its base optimizer. Tests (tests/test_ttur.py): on the authors' saddle the one "
    "time-scale rule diverges at the rate at which TTUR converges, and is slower at the "
    "generator's rate; ratio 1 equals optax.adam.",
  ),
  dict(
    name="sso",
    factory=sso,
    defaults={"learning_rate": 0.1, "target_step": 1.0, "inner_steps": 10},
    search_space={
      "learning_rate": LogRange(1e-3, 1.0),
      "target_step": LogRange(0.1, 10.0),
      "inner_steps": Choice((1, 5, 10)),
    },
    needs=("output_fn", "loss_of_outputs"),
    ids=("T5-23",),
    paper="Lavington, Vaswani, Babanezhad, Schmidt & Le Roux, Target-based Surrogates for "
    "Stochastic Optimization, arXiv:2302.02607",
    reference="paper (SSO: one target-space gradient per batch, the surrogate <grad l(z_t), "
    "f(theta)> + ||f(theta) - z_t||^2 / (2 eta) minimized by m parameter-space SGD steps). Kept: "
    "a fixed inner step size (the paper also uses an Armijo line search on the surrogate); the "
    "proximal term is averaged over the batch axis so eta is per example. Tests: numpy "
    "reference on softmax regression, one inner step is SGD, many inner steps on a linear model "
    "reach the least-squares projection of the target.",
  ),
  dict(
    name="grad_accum_adam",
    factory=grad_accum_adam,
    defaults={"learning_rate": 1e-3, "every_k": 4, **_ADAM},
    search_space={"learning_rate": _ADAM_LR},
    ids=("T5-24",),
    source="optax",
    paper="Marek et al., Small Batch Size Training for Language Models: When Vanilla SGD Works, "
    "and Why Gradient Accumulation Is Wasteful, arXiv:2507.07101",
  ),
]:
  register(Entry(tier=5, **_kw))


# ------------------------------------------------ T5-11, T5-15, T5-17, T5-19, T5-21

_FAD = "Zhang et al., Flatness-Aware Minimization for Domain Generalization, arXiv:2307.11108"
_LAWN = "Gupta et al., Logit Attenuating Weight Normalization, arXiv:2108.05839"
_FAD_DEFAULTS = {"rho": 0.05, "alpha": 0.5, "beta": 0.1}
_FAD_SPACE = {"rho": LogRange(0.01, 0.2), "alpha": Choice((0.2, 0.5, 0.8))}

for _kw in [
  dict(
    name="ranger21",
    factory=ranger21,
    defaults={
      "learning_rate": 1e-3,
      "num_steps": 1000,
      **_ADAM,
      "weight_decay": 1e-4,
      "normloss_factor": 1e-4,
      "pnm_momentum": 1.0,
      "agc_clipping": 1e-2,
      "agc_eps": 1e-3,
      "warmup_steps": None,
      "warmdown_start_pct": 0.72,
      "warmdown_min_lr": 3e-5,
      "sync_period": 5,
      "slow_step_size": 0.5,
    },
    search_space={"learning_rate": _ADAM_LR, "weight_decay": LogRange(1e-5, 1e-2)},
    ids=("T5-11",),
    paper="Wright & Demeure, Ranger21: a synergistic deep learning optimizer, arXiv:2106.13731",
    reference="paper's components (Wright & Demeure, Ranger21: AdamW + positive-negative "
    "momentum, adaptive gradient clipping, gradient centralization and normalization, linear "
    "warmup and warmdown, lookahead, norm loss), composed in optax. Kept: optax's component "
    "versions where optax ships them.",
  ),
  dict(
    name="fad_sgd",
    factory=fad_sgd,
    defaults={"learning_rate": 0.05, "momentum": 0.9, **_FAD_DEFAULTS},
    search_space={"learning_rate": _SGD_LR, **_FAD_SPACE},
    needs=("grad", "value_fn"),
    ids=("T5-15",),
    paper=_FAD,
    reference="paper's algorithm (FAD around SGD with momentum).",
  ),
  dict(
    name="fad_adam",
    factory=fad_adam,
    defaults={"learning_rate": 5e-5, **_ADAM, **_FAD_DEFAULTS},
    search_space={"learning_rate": _ADAM_LR, **_FAD_SPACE},
    needs=("grad", "value_fn"),
    ids=("T5-15",),
    paper=_FAD,
    reference="paper's algorithm (FAD: gradient of L + alpha R0 + beta R1, R0 by SAM's ascent "
    "step, R1 by the first-order flatness's Hessian-free estimate, around Adam).",
  ),
  dict(
    name="lawn_adam",
    factory=lawn_adam,
    defaults={"learning_rate": 1e-3, **_ADAM, "free_steps": 1000},
    search_space={"learning_rate": _ADAM_LR},
    ids=("T5-17",),
    paper=_LAWN,
    reference="paper (Kulkarni et al., LAWN: a free phase, then each constrained layer's norm "
    "fixed, the gradient projected on the sphere's tangent).",
  ),
  dict(
    name="lawn_sgd",
    factory=lawn_sgd,
    defaults={"learning_rate": 0.1, "momentum": 0.9, "free_steps": 1000},
    search_space={"learning_rate": _SGD_LR},
    ids=("T5-17",),
    paper=_LAWN,
    reference="paper (LAWN around SGD with momentum).",
  ),
  dict(
    name="sgg_adamw",
    factory=sgg_adamw,
    defaults={
      "learning_rate": 1e-3,
      **_ADAM,
      "weight_decay": 0.0,
      "num_clusters": 3,
      "interval": 500,
      "scale_decay": 0.9,
    },
    search_space={"learning_rate": _ADAM_LR, "num_clusters": Choice((2, 3, 4))},
    ids=("T5-19",),
    paper="Li et al., Taming LLMs by Scaling Learning Rates with Gradient Grouping, "
    "arXiv:2506.01049",
    reference="paper's algorithm (SGG: k-means clusters of per-tensor gradient statistics every "
    "interval steps, per-cluster scales with an EMA, floored at min_scale, around AdamW).",
  ),
  dict(
    name="blockwise_adamw",
    factory=blockwise_adamw,
    defaults={
      "learning_rate": 6e-4,
      "b1": 0.9,
      "b2": 0.95,
      "eps": 1e-8,
      "weight_decay": 0.1,
      "emb_ratio": 10.0,
      "qk_ratio": 8.0,
      "ffn_ratio": 6.0,
      "vo_ratio": 4.0,
    },
    search_space={"learning_rate": _ADAM_LR},
    ids=("T5-21",),
    paper="Wang et al., The Sharpness Disparity Principle in Transformers for Accelerating "
    "Language Model Pre-Training, arXiv:2502.19002",
    reference="paper (Wang et al., sharpness disparity: AdamW with one LR multiplier per block "
    "type, the paper's ratios emb 10, qk 8, ffn 6, vo 4, norms 1). Kept: block types read from "
    "parameter names (label_fn to override).",
  ),
]:
  register(Entry(tier=5, **_kw))
