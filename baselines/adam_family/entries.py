"""Registry entries of Adam and the per-coordinate adaptive methods around it (inventory
Tier 1): AdaGrad, RMSprop, AdaDelta, Adam's variants and descendants.

Methods optax ships are registered with optax's own function; the rest live in their own
`_<name>.py` files beside this one. The entry format is in the module docstring of
`baselines.registry`.
"""

from __future__ import annotations

import functools

import optax
import optax.contrib

from baselines.adam_family._adabound import adabound, amsbound
from baselines.adam_family._adagrad_norm import adagrad_norm
from baselines.adam_family._adam_atan2 import adam_atan2
from baselines.adam_family._adamnc import adamnc
from baselines.adam_family._adamod import adamod
from baselines.adam_family._adamomentum import adamomentum
from baselines.adam_family._adashift import adashift
from baselines.adam_family._core_optimizer import core_optimizer
from baselines.adam_family._diffgrad import diffgrad
from baselines.adam_family._exadam import exadam
from baselines.adam_family._fadam import fadam
from baselines.adam_family._grams import grams
from baselines.adam_family._innaprop import innaprop
from baselines.adam_family._laprop import laprop
from baselines.adam_family._mars import mars_adamw, mars_lion
from baselines.adam_family._spam import spam
from baselines.registry import Choice, Entry, LogRange, register

_LR = LogRange(1e-4, 1.0)
_ADAPTIVE_LR = LogRange(1e-5, 1e-1)
_SIGN_LR = LogRange(1e-5, 1e-1)
_WD = LogRange(1e-4, 1e-1)


# --------------------------------------------------------------------------------------------
# Shipped by optax: registered, never re-implemented.
# --------------------------------------------------------------------------------------------

register(
  Entry(
    name="adam",
    factory=optax.adam,
    defaults={"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8},
    search_space={"learning_rate": _ADAPTIVE_LR},
    ids=("T1-09",),
    tier=1,
    source="optax",
    paper="Kingma & Ba, Adam: A Method for Stochastic Optimization, arXiv:1412.6980",
  )
)
register(
  Entry(
    name="adamw",
    factory=optax.adamw,
    defaults={"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 1e-2},
    search_space={"learning_rate": _ADAPTIVE_LR, "weight_decay": LogRange(1e-4, 1e-1)},
    ids=("T1-11",),
    tier=1,
    source="optax",
    paper="Loshchilov & Hutter, Decoupled Weight Decay Regularization, arXiv:1711.05101",
  )
)
register(
  Entry(
    name="adagrad",
    factory=optax.adagrad,
    defaults={"learning_rate": 1e-2, "initial_accumulator_value": 0.1, "eps": 1e-7},
    search_space={"learning_rate": _LR},
    ids=("T1-05",),
    tier=1,
    source="optax",
    paper="Duchi, Hazan & Singer, Adaptive Subgradient Methods for Online Learning and "
    "Stochastic Optimization, JMLR 12 (2011), https://jmlr.org/papers/v12/duchi11a.html",
  )
)
register(
  Entry(
    name="rmsprop",
    factory=optax.rmsprop,
    # eps outside the square root, as in the lecture (optax's default puts it inside).
    defaults={"learning_rate": 1e-3, "decay": 0.9, "eps": 1e-8, "eps_in_sqrt": False},
    search_space={"learning_rate": _ADAPTIVE_LR, "centered": Choice((False, True))},
    ids=("T1-07",),
    tier=1,
    source="optax",
    paper="Tieleman & Hinton, Lecture 6.5 - RMSProp, COURSERA: Neural Networks for Machine "
    "Learning (2012)",
  )
)
register(
  Entry(
    name="adadelta",
    factory=optax.adadelta,
    # The paper has no learning rate (= 1).
    defaults={"learning_rate": 1.0, "rho": 0.95, "eps": 1e-6},
    search_space={"learning_rate": LogRange(1e-2, 1e2), "eps": LogRange(1e-8, 1e-4)},
    ids=("T1-08",),
    tier=1,
    source="optax",
    paper="Zeiler, ADADELTA: An Adaptive Learning Rate Method, arXiv:1212.5701",
  )
)
register(
  Entry(
    name="adamax",
    factory=optax.adamax,
    defaults={"learning_rate": 2e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8},
    search_space={"learning_rate": _ADAPTIVE_LR},
    ids=("T1-10",),
    tier=1,
    source="optax",
    paper="Kingma & Ba, Adam: A Method for Stochastic Optimization (Sec. 7.1, AdaMax), "
    "arXiv:1412.6980",
  )
)
register(
  Entry(
    name="nadam",
    factory=optax.nadam,
    defaults={"learning_rate": 2e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8},
    search_space={"learning_rate": _ADAPTIVE_LR},
    ids=("T1-12",),
    tier=1,
    source="optax",
    paper="Dozat, Incorporating Nesterov Momentum into Adam, ICLR 2016 workshop, "
    "https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ",
  )
)
register(
  Entry(
    name="amsgrad",
    factory=optax.amsgrad,
    # The paper's Algorithm 2 has no bias correction.
    defaults={
      "learning_rate": 1e-3,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-8,
      "bias_correction_mu": False,
      "bias_correction_nu": False,
    },
    search_space={"learning_rate": _ADAPTIVE_LR},
    ids=("T1-13",),
    tier=1,
    source="optax",
    paper="Reddi, Kale & Kumar, On the Convergence of Adam and Beyond, arXiv:1904.09237",
  )
)
register(
  Entry(
    name="yogi",
    factory=optax.yogi,
    defaults={"learning_rate": 1e-2, "b1": 0.9, "b2": 0.999, "eps": 1e-3},
    search_space={"learning_rate": _ADAPTIVE_LR},
    ids=("T1-19",),
    tier=1,
    source="optax",
    paper="Zaheer, Reddi, Sachan, Kale & Kumar, Adaptive Methods for Nonconvex Optimization, "
    "NeurIPS 2018, https://papers.nips.cc/paper/8186-adaptive-methods-for-nonconvex-optimization",
  )
)
register(
  Entry(
    name="radam",
    factory=optax.radam,
    defaults={"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "threshold": 5.0},
    search_space={"learning_rate": _ADAPTIVE_LR},
    ids=("T1-20",),
    tier=1,
    source="optax",
    paper="Liu et al., On the Variance of the Adaptive Learning Rate and Beyond, arXiv:1908.03265",
  )
)
register(
  Entry(
    name="adabelief",
    factory=optax.adabelief,
    defaults={"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-16, "eps_root": 1e-16},
    search_space={"learning_rate": _ADAPTIVE_LR},
    ids=("T1-21",),
    tier=1,
    source="optax",
    paper="Zhuang et al., AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed "
    "Gradients, arXiv:2010.07468",
  )
)
register(
  Entry(
    name="adopt",
    factory=optax.contrib.adopt,
    defaults={"learning_rate": 1e-3, "b1": 0.9, "b2": 0.9999, "eps": 1e-6},
    search_space={"learning_rate": _ADAPTIVE_LR, "b2": Choice((0.999, 0.9999))},
    ids=("T1-27",),
    tier=1,
    source="optax",
    paper="Taniguchi et al., ADOPT: Modified Adam Can Converge with Any beta_2 with the Optimal "
    "Rate, arXiv:2411.02853",
  )
)
register(
  Entry(
    name="ademamix",
    factory=optax.contrib.ademamix,
    defaults={
      "learning_rate": 1e-3,
      "b1": 0.9,
      "b2": 0.999,
      "b3": 0.9999,
      "alpha": 5.0,
      "eps": 1e-8,
      "weight_decay": 0.0,
    },
    search_space={
      "learning_rate": _ADAPTIVE_LR,
      "alpha": LogRange(2.0, 10.0),
      "b3": Choice((0.999, 0.9999)),
      "weight_decay": _WD,
    },
    ids=("T1-28",),
    tier=1,
    source="optax",
    paper="Pagliardini et al., The AdEMAMix Optimizer: Better, Faster, Older, arXiv:2409.03152",
  )
)
register(
  Entry(
    name="madgrad",
    factory=optax.contrib.madgrad,
    defaults={"learning_rate": 1e-2, "momentum": 0.9, "weight_decay": 0.0, "eps": 1e-6},
    search_space={"learning_rate": LogRange(1e-4, 1.0)},
    ids=("T1-33",),
    tier=1,
    source="optax",
    paper="Defazio & Jelassi, Adaptivity without Compromise: A Momentumized, Adaptive, Dual "
    "Averaged Gradient Method for Stochastic Optimization, arXiv:2101.11075",
  )
)


# --------------------------------------------------------------------------------------------
# Written here, one file each.
# --------------------------------------------------------------------------------------------

register(
  Entry(
    name="adagrad_norm",
    factory=adagrad_norm,
    # _adagrad_norm.py is shared with the AdAdaGrad batch (one scalar per model).
    defaults={"learning_rate": 1.0, "b0": 1e-2},
    search_space={"learning_rate": LogRange(1e-3, 10.0)},
    ids=("T1-06",),
    tier=1,
    source="project",
    paper="Ward, Wu & Bottou, AdaGrad stepsizes: sharp convergence over nonconvex landscapes, "
    "arXiv:1806.01811",
    reference="paper (Ward, Wu & Bottou's AdaGrad-Norm: b_t^2 = b_{t-1}^2 + |g_t|^2, step eta g_t "
    "/ b_t, one scalar for the whole model).",
  )
)
register(
  Entry(
    name="adamnc",
    factory=adamnc,
    defaults={"learning_rate": 1e-2, "b1": 0.9, "b1_decay": 1.0, "eps": 1e-8, "step_decay": True},
    search_space={"learning_rate": _LR},
    ids=("T1-14",),
    tier=1,
    source="project",
    paper="Reddi, Kale & Kumar, On the Convergence of Adam and Beyond, arXiv:1904.09237",
    reference="paper (Reddi et al.'s AdamNC: beta_2t = 1 - 1/t, beta_1t = beta_1 lambda^(t-1), "
    "alpha_t = alpha/sqrt(t), no bias correction). Kept: eps 1e-8 added to sqrt(v) (the paper has "
    "none).",
  )
)
register(
  Entry(
    name="adabound",
    factory=adabound,
    defaults={"learning_rate": 1e-3, "final_lr": 0.1, "b1": 0.9, "b2": 0.999, "gamma": 1e-3},
    search_space={"learning_rate": _ADAPTIVE_LR, "final_lr": LogRange(1e-3, 1.0)},
    ids=("T1-15",),
    tier=1,
    source="project",
    paper="Luo, Xiong, Liu & Sun, Adaptive Gradient Methods with Dynamic Bound of Learning "
    "Rate, arXiv:1902.09843",
    reference="authors' code Luolc/AdaBound@adabound/adabound.py (bounds, bias correction inside "
    "the step size, final_lr scaled with a schedule, L2 weight decay): exact.",
  )
)
register(
  Entry(
    name="amsbound",
    factory=amsbound,
    defaults={"learning_rate": 1e-3, "final_lr": 0.1, "b1": 0.9, "b2": 0.999, "gamma": 1e-3},
    search_space={"learning_rate": _ADAPTIVE_LR, "final_lr": LogRange(1e-3, 1.0)},
    ids=("T1-16",),
    tier=1,
    source="project",
    paper="Luo, Xiong, Liu & Sun, Adaptive Gradient Methods with Dynamic Bound of Learning "
    "Rate, arXiv:1902.09843",
    reference="authors' code Luolc/AdaBound@adabound/adabound.py (amsbound=True: running max of "
    "v): exact.",
  )
)
register(
  Entry(
    name="adamod",
    factory=adamod,
    defaults={"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "b3": 0.999, "eps": 1e-8},
    search_space={"learning_rate": _ADAPTIVE_LR, "b3": Choice((0.99, 0.999, 0.9999))},
    ids=("T1-17",),
    tier=1,
    source="project",
    paper="Ding, Ren, Luo & Sun, An Adaptive and Momental Bound Method for Stochastic "
    "Learning, arXiv:1910.12249",
    reference="paper Alg. 1 (s_t averages eta_t = alpha/(sqrt(v_hat)+eps); step min(eta_t, s_t) "
    "m_hat). Kept against authors' code lancopku/AdaMod@adamod/adamod.py, which folds m's bias "
    "correction into the averaged step size (a looser bound early) and adds eps to the "
    "uncorrected root: the paper's algorithm.",
  )
)
register(
  Entry(
    name="adashift",
    factory=adashift,
    defaults={
      "learning_rate": 1e-3,
      "keep_num": 10,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-10,
      "reduce": "max",
    },
    search_space={
      "learning_rate": LogRange(1e-5, 1.0),
      "keep_num": Choice((1, 10)),
      "reduce": Choice(("max", "none")),
    },
    ids=("T1-18",),
    tier=1,
    source="project",
    paper="Zhou et al., AdaShift: Decorrelation and Convergence of Adaptive Learning Rate "
    "Methods, arXiv:1810.00143",
    reference="paper's algorithm (temporal shift n, weighted window for m, spatial max phi). "
    "Kept: phi is the max over the whole tensor (one block per tensor); v is bias-corrected over "
    "its t - n updates.",
  )
)
register(
  Entry(
    name="diffgrad",
    factory=diffgrad,
    defaults={
      "learning_rate": 1e-3,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-8,
      "eps_after_correction": False,
    },
    search_space={"learning_rate": _ADAPTIVE_LR},
    ids=("T1-22",),
    tier=1,
    source="project",
    paper="Dubey et al., diffGrad: An Optimization Method for Convolutional Neural Networks, "
    "arXiv:1909.11015",
    reference="authors' code shivram1987/diffGrad@diffGrad_v2.py (the version that keeps the "
    "previous gradient): eps on the uncorrected root sqrt(v), the step scaled by "
    "sqrt(1-b2^t)/(1-b1^t); eps_after_correction=True gives the paper's m_hat/(sqrt(v_hat)+eps). "
    "Kept: no weight decay (the authors' optional L2 is not ported).",
  )
)
register(
  Entry(
    name="laprop",
    factory=laprop,
    defaults={"learning_rate": 4e-4, "b1": 0.9, "b2": 0.999, "eps": 1e-15},
    search_space={"learning_rate": _ADAPTIVE_LR, "b2": Choice((0.99, 0.999))},
    ids=("T1-23",),
    tier=1,
    source="project",
    paper="Ziyin, Wang & Ueda, LaProp: Separating Momentum and Adaptivity in Adam, "
    "arXiv:2002.04839",
    reference="authors' algorithm (Ziyin et al., LaProp: momentum of the normalized gradient; lr "
    "4e-4, eps 1e-15). Kept: the learning rate multiplies the momentum after averaging (optax's "
    "chain); the authors' code averages lr-scaled gradients, the same for a constant lr.",
  )
)
register(
  Entry(
    name="adamomentum",
    factory=adamomentum,
    defaults={"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8},
    search_space={"learning_rate": _ADAPTIVE_LR},
    ids=("T1-24",),
    tier=1,
    source="project",
    paper="Wang, Xiong, Li & Zhu, Rethinking Adam: A Twofold Exponential Moving Average "
    "Approach, arXiv:2106.11514",
    reference="paper's algorithm (v_t averages m_t^2 plus eps inside; eps again on the corrected "
    "root).",
  )
)
register(
  Entry(
    name="exadam",
    factory=exadam,
    defaults={"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
    search_space={"learning_rate": _ADAPTIVE_LR},
    ids=("T1-25",),
    tier=1,
    source="project",
    paper="Adly, EXAdam: The Power of Adaptive Cross-Moments, arXiv:2412.20302",
    reference="authors' code AhmedMostafa16/EXAdam@exadam.py (d1, d2, g_tilde, eps placement, "
    "decoupled weight decay): exact, plus the paper's growing step size ln(sqrt(2(t+1))) "
    "(step_growth=True), which the released code does not apply.",
  )
)
register(
  Entry(
    name="fadam",
    factory=fadam,
    defaults={
      "learning_rate": 1e-3,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-8,
      "clip": 1.0,
      "p": 0.5,
      "weight_decay": 0.1,
    },
    search_space={"learning_rate": _ADAPTIVE_LR, "weight_decay": LogRange(1e-3, 1.0)},
    ids=("T1-26",),
    tier=1,
    source="project",
    paper="Hwang, FAdam: Adam is a natural gradient optimizer using diagonal empirical Fisher "
    "information, arXiv:2405.12807",
    reference="paper Alg. 1 (bias-corrected Fisher EMA via rho_t, per-tensor RMS clip of the "
    "natural gradient and of the Fisher-preconditioned weight decay, no momentum bias correction).",
  )
)
register(
  Entry(
    name="grams",
    factory=grams,
    defaults={
      "learning_rate": 1e-3,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-6,
      "weight_decay": 0.0,
      "eps_after_correction": False,
    },
    search_space={"learning_rate": _ADAPTIVE_LR, "weight_decay": _WD},
    ids=("T1-31",),
    tier=1,
    source="project",
    paper="Cao et al., Grams: Gradient Descent with Adaptive Momentum Scaling, arXiv:2412.17107",
    reference="authors' code Gunale0926/Grams@grams/src/grams.py: eps 1e-6 on the uncorrected "
    "root sqrt(v), the step scaled by sqrt(1-b2^t)/(1-b1^t), decoupled decay of the weights "
    "before the step; eps_after_correction=True gives the paper's m_hat/(sqrt(v_hat)+eps).",
  )
)
register(
  Entry(
    name="spam",
    factory=spam,
    defaults={
      "learning_rate": 1e-3,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-6,
      "weight_decay": 0.0,
      "spike_threshold": 5000.0,
      "reset_interval": 500,
      "warmup_steps": 150,
      "clip_delay": 20,
    },
    search_space={
      "learning_rate": _ADAPTIVE_LR,
      "reset_interval": Choice((200, 500, 1000)),
      "spike_threshold": Choice((1000.0, 5000.0)),
    },
    ids=("T1-32", "T5-06"),
    tier=1,
    source="project",
    paper="Huang et al., SPAM: Spike-Aware Adam with Momentum Reset for Stable LLM Training, "
    "arXiv:2501.06842",
    reference="authors' code TianjinYellow/SPAM-Optimizer@galore_torch/SPAM.py (reset, "
    "spike clipping, cosine re-warmup, eps on the uncorrected root). Kept: decoupled decay of "
    "the weights before the step (AdamW's order); the authors decay the stepped weights, "
    "p <- (p - lr u)(1 - lr wd), which differs by lr^2 wd u (relative lr wd, ~1e-4).",
  )
)
register(
  Entry(
    name="core_optimizer",
    factory=core_optimizer,
    defaults={
      "learning_rate": 1e-3,
      "b1_initial": 0.7375,
      "b1_final": 0.8125,
      "b1_decay_steps": 250.0,
      "b2": 0.99,
      "eps": 1e-8,
      "eta_minus": 0.7375,
      "eta_plus": 1.2,
      "min_step_size": 1e-6,
      "max_step_size": 1e-2,
      "weight_decay": 0.1,
    },
    search_space={
      "learning_rate": LogRange(1e-4, 1e-2),
      "max_step_size": LogRange(1e-3, 1.0),
      "weight_decay": LogRange(1e-3, 1.0),
    },
    ids=("T1-35",),
    tier=1,
    source="project",
    paper="Eckhoff & Reiher, CoRe Optimizer: An All-in-One Solution for Machine Learning, "
    "arXiv:2307.15663",
    reference="paper's algorithm (Eckhoff & Reiher; checked exact in issue 18's independent "
    "review). Kept: the stability-plasticity balance (lifelong learning, off by default there) is "
    "left out.",
  )
)
register(
  Entry(
    name="innaprop",
    factory=innaprop,
    defaults={
      "learning_rate": 1e-3,
      "alpha": 0.1,
      "beta": 0.9,
      "sigma": 0.999,
      "eps": 1e-8,
      "weight_decay": 0.01,
    },
    search_space={
      "learning_rate": LogRange(1e-5, 0.3),
      "alpha": Choice((0.1, 0.5, 1.0, 2.0)),
      "beta": Choice((0.1, 0.5, 0.9, 2.0)),
      "weight_decay": _WD,
    },
    ids=("T1-37",),
    tier=1,
    source="project",
    paper="Bolte et al., A second-order-like optimizer with adaptive gradient scaling for deep "
    "learning, arXiv:2410.05871",
    reference="paper's algorithm (INNA dynamics with RMSprop scaling, psi_0 = (1 - alpha beta) "
    "theta_0, decoupled weight decay (1 - gamma lambda) theta).",
  )
)

_MARS_PAPER = (
  "Yuan et al., MARS: Unleashing the Power of Variance Reduction for Training Large Models, "
  "arXiv:2411.10438"
)
_MARS_REFERENCE = (
  "authors' code AGI-Arena/MARS@MARS/optimizers/mars.py: vectors and scalars take AdamW with "
  "betas_1d (0.9, 0.95) and weight_decay_1d 0.1 (their optimize_1d=False); optimize_1d=True "
  "sends them through MARS. Kept: convolution kernels go through MARS (matrix view of "
  "baselines.axes); the authors' len(shape) == 2 test sends them to AdamW."
)
_MARS_1D = {"optimize_1d": False, "betas_1d": (0.9, 0.95), "weight_decay_1d": 0.1}
register(
  Entry(
    name="mars_adamw",
    factory=mars_adamw,
    defaults={
      "learning_rate": 3e-3,
      "b1": 0.95,
      "b2": 0.99,
      "eps": 1e-8,
      "gamma": 0.025,
      "weight_decay": 0.0,
      **_MARS_1D,
    },
    search_space={
      "learning_rate": _ADAPTIVE_LR,
      "gamma": LogRange(5e-3, 0.1),
      "weight_decay": _WD,
    },
    ids=("T1-38",),
    tier=1,
    source="project",
    paper=_MARS_PAPER,
    reference=_MARS_REFERENCE,
  )
)
register(
  Entry(
    name="mars_adamw_exact",
    factory=functools.partial(mars_adamw, exact=True),
    defaults={
      "learning_rate": 3e-3,
      "b1": 0.95,
      "b2": 0.99,
      "eps": 1e-8,
      "gamma": 0.025,
      "weight_decay": 0.0,
      **_MARS_1D,
    },
    search_space={
      "learning_rate": _ADAPTIVE_LR,
      "gamma": LogRange(5e-3, 0.1),
      "weight_decay": _WD,
    },
    needs=("grad", "value_fn"),
    ids=("T1-38",),
    tier=1,
    source="project",
    paper=_MARS_PAPER,
    reference=_MARS_REFERENCE,
  )
)
register(
  Entry(
    name="mars_lion",
    factory=mars_lion,
    defaults={
      "learning_rate": 1e-4,
      "b1": 0.9,
      "gamma": 0.025,
      "weight_decay": 0.0,
      **_MARS_1D,
    },
    search_space={"learning_rate": _SIGN_LR, "gamma": LogRange(5e-3, 0.1), "weight_decay": _WD},
    ids=("T1-38",),
    tier=1,
    source="project",
    paper=_MARS_PAPER,
    reference=_MARS_REFERENCE,
  )
)
register(
  Entry(
    name="adam_atan2",
    factory=adam_atan2,
    defaults={"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "a": 1.27, "b": 1.0},
    search_space={"learning_rate": _ADAPTIVE_LR},
    ids=("T1-39",),
    tier=1,
    source="project",
    paper="Everett et al., Scaling Exponents Across Parameterizations and Optimizers, "
    "arXiv:2407.05872",
    reference="paper (Everett et al.: a atan2(m_hat, b sqrt(v_hat)), a = 1.27, b = 1, no eps); "
    "decoupled weight decay scaled by lr.",
  )
)
