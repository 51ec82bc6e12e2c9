"""Registry entries of the zeroth-order methods (inventory T4-01 to T4-18).

Optimizers that need only loss values (`value_fn`) and a PRNG key, no gradient, one
`_<name>.py` file each beside this one. Their perturbations come from the shared module
`baselines.perturbation`, which the evolution-strategies estimators also use. The entry
format is in the module docstring of `baselines.registry`.
"""

from __future__ import annotations

from baselines.registry import Choice, Entry, LogRange, register
from baselines.zeroth_order._cbo import cbo
from baselines.zeroth_order._deepzero import deepzero
from baselines.zeroth_order._fipso import adam_fipso
from baselines.zeroth_order._forward_gradient import forward_gradient_sgd
from baselines.zeroth_order._mezo import mezo, zo_adam, zo_sgd_momentum, zo_sgd_sign
from baselines.zeroth_order._quzo import quzo
from baselines.zeroth_order._tpsgd import tpsgd
from baselines.zeroth_order._zo_adamu import zo_adamu
from baselines.zeroth_order._zo_blockwise import zo_sgd_blockwise
from baselines.zeroth_order._zo_hybrid import zo_sgd_hybrid
from baselines.zeroth_order._zo_sgd_cons import zo_sgd_cons
from baselines.zeroth_order._zo_sparse import zo_sgd_sparse

_ZO = ("value_fn", "key")
_MEZO_PAPER = (
  "Malladi et al., Fine-Tuning Language Models with Just Forward Passes, "
  "https://arxiv.org/abs/2305.17333"
)
_ZO_BENCH = (
  "Zhang et al., Revisiting Zeroth-Order Optimization for Memory-Efficient LLM Fine-Tuning: "
  "A Benchmark, https://arxiv.org/abs/2402.11592"
)
# ZO-SGD's step must shrink with the dimension (its variance grows ~ d): the range reaches
# down to MeZO's LLM settings (1e-7) and up to what a 16-parameter problem tolerates.
_ZO_LR = LogRange(3e-8, 3e-2)
_EPS = LogRange(1e-4, 1e-1)

register(
  Entry(
    name="mezo",
    factory=mezo,
    defaults={"learning_rate": 1e-6, "eps": 1e-3, "weight_decay": 0.0},
    search_space={"learning_rate": _ZO_LR, "eps": _EPS, "num_queries": Choice((1, 4, 16))},
    needs=_ZO,
    ids=("T4-01",),
    tier=4,
    source="project",
    paper=_MEZO_PAPER,
    reference="authors' code princeton-nlp/MeZO (its trainer's ZO step): projected_grad = "
    "(L(theta + eps z) - L(theta - eps z)) / (2 eps), theta -= lr (projected_grad z + wd theta), "
    "lr 1e-6, eps 1e-3. Fixed here: weight decay skipped biases and LayerNorm there but hit every "
    "tensor here; now only tensors with ndim >= 2.",
  )
)
register(
  Entry(
    name="zo_sgd_momentum",
    factory=zo_sgd_momentum,
    defaults={"learning_rate": 1e-7, "momentum": 0.9, "eps": 1e-3},
    search_space={
      "learning_rate": LogRange(3e-9, 3e-3),
      "momentum": Choice((0.0, 0.5, 0.9)),
      "eps": _EPS,
    },
    needs=_ZO,
    ids=("T4-02",),
    tier=4,
    source="project",
    paper=_ZO_BENCH,
    reference="paper (ZO-Bench, Zhang et al.: ZO-SGD-MMT, heavy-ball momentum on the SPSA "
    "estimate).",
  )
)
register(
  Entry(
    name="zo_sgd_sign",
    factory=zo_sgd_sign,
    defaults={"learning_rate": 1e-7, "eps": 1e-3},
    search_space={"learning_rate": _ZO_LR, "eps": _EPS},
    needs=_ZO,
    ids=("T4-03",),
    tier=4,
    source="project",
    paper=_ZO_BENCH,
    reference="paper (ZO-Bench: ZO-SGD-Sign, the sign of the SPSA estimate).",
  )
)
register(
  Entry(
    name="zo_sgd_cons",
    factory=zo_sgd_cons,
    defaults={"learning_rate": 1e-7, "eps": 1e-3},
    search_space={"learning_rate": _ZO_LR, "eps": _EPS},
    needs=_ZO,
    ids=("T4-04",),
    tier=4,
    source="project",
    paper=_ZO_BENCH,
    reference="paper (ZO-Bench: ZO-SGD-Cons, the conservative step that keeps the best of theta, "
    "theta - lr g, theta + lr g by loss).",
  )
)
register(
  Entry(
    name="zo_adam",
    factory=zo_adam,
    defaults={"learning_rate": 1e-5, "b1": 0.9, "b2": 0.999, "eps": 1e-3},
    search_space={"learning_rate": LogRange(1e-6, 1e-1), "b1": Choice((0.0, 0.9)), "eps": _EPS},
    needs=_ZO,
    ids=("T4-05",),
    tier=4,
    source="project",
    paper=_ZO_BENCH,
    reference="paper (ZO-Bench: ZO-Adam, Adam on the SPSA estimate).",
  )
)
register(
  Entry(
    name="forward_gradient_sgd",
    factory=forward_gradient_sgd,
    defaults={"learning_rate": 1e-4, "num_queries": 1},
    search_space={"learning_rate": _ZO_LR, "num_queries": Choice((1, 4, 16))},
    needs=_ZO,
    ids=("T4-06",),
    tier=4,
    source="project",
    paper=_ZO_BENCH + "; Baydin et al., Gradients without Backpropagation, "
    "https://arxiv.org/abs/2202.08587",
    reference="paper (Baydin et al., forward gradient: (grad . v) v with one JVP per query, v "
    "standard normal).",
  )
)
register(
  Entry(
    name="zo_sgd_blockwise",
    factory=zo_sgd_blockwise,
    defaults={"learning_rate": 1e-6, "eps": 1e-3},
    search_space={"learning_rate": _ZO_LR, "eps": _EPS},
    needs=_ZO,
    ids=("T4-07",),
    tier=4,
    source="project",
    paper=_ZO_BENCH,
    reference="paper (ZO-Bench's block-wise ZO: one SPSA estimate per parameter block).",
  )
)
register(
  Entry(
    name="zo_sgd_hybrid",
    factory=zo_sgd_hybrid,
    defaults={"learning_rate": 1e-6, "first_order_fraction": 0.5, "eps": 1e-3},
    search_space={
      "learning_rate": _ZO_LR,
      "first_order_fraction": Choice((0.25, 0.5, 0.75)),
      "eps": _EPS,
    },
    needs=("grad", *_ZO),
    ids=("T4-08",),
    tier=4,
    source="project",
    paper=_ZO_BENCH,
    reference="paper (ZO-Bench's hybrid ZO/FO: first-order gradients for a fraction of the "
    "blocks, SPSA for the rest).",
  )
)
register(
  Entry(
    name="zo_sgd_sparse",
    factory=zo_sgd_sparse,
    defaults={"learning_rate": 1e-6, "density": 0.2, "mask": "random", "eps": 1e-3},
    search_space={
      "learning_rate": LogRange(1e-6, 1e-1),
      "density": Choice((0.05, 0.2, 0.5)),
      "mask": Choice(("random", "magnitude")),
      "eps": _EPS,
    },
    needs=_ZO,
    ids=("T4-09",),
    tier=4,
    source="project",
    paper=_ZO_BENCH + "; Liu et al., Sparse MeZO, https://arxiv.org/abs/2402.15751",
    reference="paper (ZO-Bench / Sparse-MeZO: perturb only a random or magnitude-chosen subset of "
    "coordinates).",
  )
)
register(
  Entry(
    name="zo_adamu",
    factory=zo_adamu,
    defaults={"learning_rate": 1e-6, "eps": 1e-3, "alpha": 0.5, "b1": 0.9, "b2": 0.99},
    search_space={"learning_rate": _ZO_LR, "alpha": Choice((0.0, 0.3, 0.5, 0.7)), "eps": _EPS},
    needs=_ZO,
    ids=("T4-10",),
    tier=4,
    source="project",
    paper="Jiang et al., ZO-AdaMU Optimizer: Adapting Perturbation by the Momentum and "
    "Uncertainty in Zeroth-Order Optimization, https://arxiv.org/abs/2312.15184",
    reference="paper's algorithm (ZO-AdaMU: the perturbation's mean and variance adapted by "
    "momentum and uncertainty, mixed with weight alpha).",
  )
)
_DEEPZERO = (
  "Chen et al., DeepZero: Scaling up Zeroth-Order Optimization for Deep Model Training, "
  "https://arxiv.org/abs/2310.02025"
)
register(
  Entry(
    name="deepzero",
    factory=deepzero,
    defaults={"learning_rate": 0.1, "mu": 5e-3, "density": 1.0, "momentum": 0.9},
    search_space={"learning_rate": LogRange(1e-4, 1.0), "mu": LogRange(1e-4, 1e-1)},
    needs=_ZO,
    ids=("T4-11",),
    tier=4,
    source="project",
    paper=_DEEPZERO,
    reference="paper's algorithm (Chen et al., DeepZero: coordinate-wise forward-difference "
    "estimates (CGE) with step mu, momentum).",
  )
)
register(
  Entry(
    name="deepzero_sparse",
    factory=deepzero,
    defaults={"learning_rate": 0.1, "mu": 5e-3, "density": 0.1, "momentum": 0.9},
    search_space={
      "learning_rate": LogRange(1e-4, 1.0),
      "density": Choice((0.05, 0.1, 0.2, 0.5)),
      "mu": LogRange(1e-4, 1e-1),
    },
    needs=_ZO,
    ids=("T4-12",),
    tier=4,
    source="project",
    paper=_DEEPZERO,
    reference="paper's algorithm (DeepZero's CGE on a sparse coordinate set of the given density).",
  )
)
register(
  Entry(
    name="quzo",
    factory=quzo,
    defaults={"learning_rate": 1e-6, "bits": 8, "eps": 1e-3},
    search_space={"learning_rate": _ZO_LR, "bits": Choice((4, 8)), "eps": _EPS},
    needs=_ZO,
    ids=("T4-13",),
    tier=4,
    source="project",
    paper="Zhou et al., QuZO: Quantized Zeroth-Order Fine-Tuning for Large Language Models, "
    "https://arxiv.org/abs/2502.12346",
    reference="paper's algorithm (QuZO: SPSA with low-bit perturbations quantized by unbiased "
    "stochastic rounding).",
  )
)
register(
  Entry(
    name="zo2",
    factory=None,
    defaults={},
    search_space={},
    needs=_ZO,
    ids=("T4-14",),
    tier=4,
    source="project",
    paper="Wang et al., ZO2: Scalable Zeroth-Order Fine-Tuning for Extremely Large Language "
    "Models with Limited GPU Memory, https://arxiv.org/abs/2503.12668",
    status="not-applicable",
    reason="ZO2's update rule is MeZO's (registered as `mezo`); its contribution is a runtime "
    "that streams parameter blocks between CPU and GPU memory, overlapping transfers with the "
    "two forward passes. That is a property of how a model's forward pass is executed (in "
    "JAX: host-memory placement of parameters), not of an optax update rule.",
  )
)
register(
  Entry(
    name="tpsgd",
    factory=tpsgd,
    defaults={"learning_rate": 0.1, "momentum": 0.0, "seed": 0, "projection_scale": 1.0},
    search_space={"learning_rate": LogRange(1e-3, 1.0), "projection_scale": Choice((0.3, 1.0))},
    needs=("dense_fn", "loss_of_outputs", "targets"),
    ids=("T4-15",),
    tier=4,
    source="project",
    paper="Lomnitz et al., Learning with Local Gradients at the Edge (target projection SGD), "
    "https://arxiv.org/abs/2208.08503",
    reference="paper (Lomnitz et al.'s tpSGD, no public code: each hidden layer by SGD on the "
    "squared distance of its output to y* P_l, P_l fixed random, its input from a forward "
    "pass; the output layer on the task loss; DRTP's rule for the l2 loss). Kept: P_l Gaussian "
    "(scale projection_scale) drawn from a fixed seed; the paper's l1 / RNN variants are not "
    "implemented; dense layers only. tests/test_tpsgd.py: numpy reference, locality; "
    "bench/tpsgd.py: 2.3 accuracy points below backprop SGD on digits_mlp_32 at 1000 steps "
    "(the paper: within 5 on shallow networks).",
  )
)
register(
  Entry(
    name="cbo",
    factory=cbo,
    defaults={"learning_rate": 0.1, "num_particles": 64, "alpha": 100.0, "sigma": 1.4},
    search_space={
      "learning_rate": LogRange(3e-2, 1.0),
      "num_particles": Choice((32, 64, 128)),
      "alpha": LogRange(10.0, 1e4),
      "sigma": LogRange(0.5, 1.4),
    },
    needs=_ZO,
    ids=("T4-16",),
    tier=4,
    source="project",
    paper="Riedl, Klock, Geldhauser & Fornasier, Gradient is All You Need?, "
    "https://arxiv.org/abs/2306.09778",
    reference="paper (consensus-based optimization: particles drift to the softmin-weighted "
    "consensus with weight alpha, anisotropic diffusion sigma, the anisotropic variant of "
    "Carrillo et al.).",
  )
)
register(
  Entry(
    name="adam_fipso",
    factory=adam_fipso,
    defaults={"learning_rate": 0.01, "num_particles": 20, "chi": 0.7298, "phi": 4.1},
    search_space={
      "learning_rate": LogRange(1e-3, 0.3),
      "num_particles": Choice((10, 20, 40)),
      "topology": Choice(("ring", "all")),
    },
    needs=("grad", *_ZO),
    ids=("T4-17",),
    tier=4,
    source="project",
    paper="Bhat, Wang & Parampalli, Adam assisted Fully informed Particle Swarm Optimization "
    "(Adam-FIPSO) based Parameter Prediction for the Quantum Approximate Optimization "
    "Algorithm (QAOA), https://arxiv.org/abs/2506.06790",
    reference="paper's algorithm (fully informed particle swarm with constriction chi 0.7298, phi "
    "4.1, and an Adam correction of the incumbent).",
  )
)
register(
  Entry(
    name="zeroflow",
    factory=None,
    defaults={},
    search_space={},
    needs=_ZO,
    ids=("T4-18",),
    tier=4,
    source="project",
    paper="ZeroFlow: Overcoming Catastrophic Forgetting is Easier than You Think, "
    "https://arxiv.org/abs/2501.01045",
    status="not-applicable",
    reason="ZeroFlow is a benchmark suite, not an optimizer: the forward-pass methods it "
    "compares are registered individually (`mezo`, `zo_sgd_sign`, `zo_sgd_cons`, `zo_adam`, "
    "`forward_gradient_sgd`, `zo_sgd_momentum`), and its forgetting protocol is an "
    "evaluation setting, not an update rule.",
  )
)
