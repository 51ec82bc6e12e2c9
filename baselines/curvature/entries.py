"""Registry entries of the second-order and curvature methods (inventory T3-01 to T3-20).

Methods optax ships (Sophia, L-BFGS, Hutchinson's estimator) are registered with optax's own
code behind the project's extra args; the rest live in their own `_<name>.py` files beside
this one and share `baselines.curvature.hessian` (HVPs via `value_fn`, Hutchinson probes from
`key`, Lanczos, CG). The entry format is in the module docstring of `baselines.registry`.
"""

from __future__ import annotations

from baselines.curvature._adafisher import adafisher
from baselines.curvature._adahessian import adahessian
from baselines.curvature._egn import egn
from baselines.curvature._exact_augmented_lagrangian import exact_augmented_lagrangian_sketching
from baselines.curvature._fosi import fosi
from baselines.curvature._grad_reg_newton import grad_reg_newton
from baselines.curvature._harpg import harpg, n_pg_igt
from baselines.curvature._iterative_newton import iterative_newton
from baselines.curvature._ivon import ivon
from baselines.curvature._kfac import kfac
from baselines.curvature._levenberg_marquardt import levenberg_marquardt
from baselines.curvature._mfac import mfac
from baselines.curvature._mkor import mkor, mkor_h
from baselines.curvature._oasis import oasis
from baselines.curvature._optax_second_order import hutchinson_newton, lbfgs, sophia
from baselines.curvature._sgn import sgn
from baselines.curvature._slq_momentum import slq_momentum
from baselines.registry import Choice, Entry, LogRange, register

_HVP = ("grad", "value_fn", "key")
_GN = ("output_fn", "loss_of_outputs")


# --------------------------------------------------------------------------------------------
# Shipped by optax: registered, never re-implemented.
# --------------------------------------------------------------------------------------------

register(
  Entry(
    name="sophia",
    factory=sophia,
    defaults={
      "learning_rate": 3e-4,
      "b1": 0.965,
      "b2": 0.99,
      "eps": 1e-8,
      "weight_decay": 1e-4,
      "gamma": 0.01,
      "clip_threshold": 1.0,
      "update_interval": 10,
    },
    search_space={
      "learning_rate": LogRange(1e-4, 1e-1),
      "gamma": LogRange(1e-3, 1e-1),
      "weight_decay": LogRange(1e-4, 2e-1),
    },
    needs=_HVP,
    ids=("T3-02",),
    tier=3,
    source="optax",
    paper="Liu et al., Sophia: A Scalable Stochastic Second-order Optimizer for Language Model "
    "Pre-training, arXiv:2305.14342 (Sophia-H: optax.contrib.sophia)",
  )
)
register(
  Entry(
    name="lbfgs",
    factory=lbfgs,
    defaults={"learning_rate": None, "memory_size": 10, "scale_init_precond": True},
    search_space={"memory_size": Choice((5, 10, 20))},
    needs=("grad", "value", "value_fn"),
    ids=("T3-12",),
    tier=3,
    source="optax",
    paper="Liu & Nocedal, On the limited memory BFGS method for large scale optimization, "
    "Math. Programming 45 (1989); optax.lbfgs with optax.scale_by_zoom_linesearch",
  )
)
register(
  Entry(
    name="hutchinson_newton",
    factory=hutchinson_newton,
    defaults={"learning_rate": 1.0, "eps": 1e-4, "seed": 0},
    search_space={"learning_rate": LogRange(1e-3, 1.0), "eps": LogRange(1e-6, 1e-1)},
    needs=("grad", "value_fn"),
    ids=("T3-16",),
    tier=3,
    source="optax",
    paper="Hutchinson, A stochastic estimator of the trace of the influence matrix for "
    "Laplacian smoothing splines (1990); Bekas, Kokiopoulou & Saad, An estimator for the "
    "diagonal of a matrix (2007); the estimator is "
    "optax.contrib.hutchinson_estimator_diag_hessian, used in a diagonal Newton step",
  )
)


# --------------------------------------------------------------------------------------------
# Written here.
# --------------------------------------------------------------------------------------------

register(
  Entry(
    name="adahessian",
    factory=adahessian,
    defaults={
      "learning_rate": 0.15,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-4,
      "weight_decay": 0.0,
      "hessian_power": 1.0,
      "update_interval": 1,
    },
    search_space={
      "learning_rate": LogRange(1e-3, 1.0),
      "hessian_power": Choice((0.5, 1.0)),
      "weight_decay": LogRange(1e-5, 1e-2),
    },
    needs=_HVP,
    ids=("T3-01",),
    tier=3,
    source="project",
    paper="Yao et al., ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning, "
    "arXiv:2006.00719",
    reference="authors' code (Yao et al., AdaHessian: Hutchinson diagonal, spatial averaging for "
    "conv kernels only, Hessian power k, decoupled weight decay) as stated in the rule's "
    "docstring; lr 0.15, eps 1e-4.",
  )
)
register(
  Entry(
    name="oasis",
    factory=oasis,
    defaults={"learning_rate": 0.1, "b2": 0.99, "alpha": 1e-5, "adaptive_lr": True},
    search_space={
      "learning_rate": LogRange(1e-3, 1.0),
      "alpha": LogRange(1e-7, 1e-2),
      "adaptive_lr": Choice((True, False)),
    },
    needs=_HVP,
    ids=("T3-15",),
    tier=3,
    source="project",
    paper="Jahani et al., Doubly Adaptive Scaled Algorithm for Machine Learning Using "
    "Second-Order Information (OASIS), arXiv:2109.05198",
    reference="paper Alg. 1 (Jahani et al., OASIS: truncated Hutchinson diagonal max(|D|, alpha), "
    "adaptive step size from consecutive gradient differences).",
  )
)
register(
  Entry(
    name="mfac",
    factory=mfac,
    defaults={
      "learning_rate": 1e-3,
      "num_grads": 1024,
      "damping": 1e-3,
      "momentum": 0.0,
      "weight_decay": 0.0,
    },
    search_space={
      "learning_rate": LogRange(1e-4, 1e-1),
      "damping": LogRange(1e-5, 1e-1),
      "num_grads": Choice((32, 256, 1024)),
    },
    ids=("T3-07",),
    tier=3,
    source="project",
    paper="Frantar, Kurtic & Alistarh, M-FAC: Efficient Matrix-Free Approximations of "
    "Second-Order Information, arXiv:2107.03356",
    reference="paper (Frantar et al., M-FAC: inverse empirical-Fisher products over a sliding "
    "window of m gradients, damping lambda) and the authors' optimizer's momentum on the "
    "preconditioned direction.",
  )
)
register(
  Entry(
    name="ivon",
    factory=ivon,
    defaults={
      "learning_rate": 0.1,
      "ess": 1e4,
      "hess_init": 1.0,
      "b1": 0.9,
      "b2": 0.99999,
      "weight_decay": 1e-4,
      "mc_samples": 1,
    },
    search_space={
      "learning_rate": LogRange(1e-3, 1.0),
      "hess_init": LogRange(1e-3, 1.0),
      "ess": LogRange(1e3, 1e7),
    },
    needs=("value_fn", "key"),
    ids=("T3-13",),
    tier=3,
    source="project",
    paper="Shen et al., Variational Learning is Effective for Large Deep Networks (IVON), "
    "arXiv:2402.17641",
    reference="paper Alg. 1 (Shen et al., IVON: sampled weights, reparameterized Hessian "
    "estimate, ess, h0, beta2 0.99999, the Hessian correction term) and the authors' code's "
    "SGD-with-momentum form, as the rule's docstring states.",
  )
)

register(
  Entry(
    name="grad_reg_newton",
    factory=grad_reg_newton,
    defaults={"learning_rate": 1.0, "regularization": 1.0, "cg_iters": 10},
    search_space={
      "learning_rate": LogRange(0.1, 1.0),
      "regularization": LogRange(1e-2, 1e2),
      "cg_iters": Choice((5, 10, 20)),
    },
    needs=("grad", "value_fn"),
    ids=("T3-14",),
    tier=3,
    source="project",
    paper="Semenov, Jaggi & Doikov, Gradient-Normalized Smoothness for Optimization with "
    "Approximate Hessians, arXiv:2506.13710 (exact Hessian through HVPs, solved by CG)",
    reference="paper (Semenov, Jaggi & Doikov: x - (H + sqrt(L |g|) I)^-1 g, the exact "
    "Hessian through HVPs, the system solved by truncated CG).",
  )
)
register(
  Entry(
    name="slq_momentum",
    factory=slq_momentum,
    defaults={
      "learning_rate": 1.0,
      "lanczos_iters": 10,
      "update_interval": 100,
      "min_ratio": 1e-3,
    },
    search_space={
      "learning_rate": LogRange(0.1, 1.0),
      "update_interval": Choice((10, 100)),
      "min_ratio": LogRange(1e-4, 1e-1),
    },
    needs=_HVP,
    ids=("T3-17",),
    tier=3,
    source="project",
    paper="Granziol, Zohren & Roberts, Learning Rates as a Function of Batch Size: A Random "
    "Matrix Theory Approach to Neural Network Training, arXiv:2006.09092 (Lanczos spectrum "
    "edges set Polyak's heavy-ball learning rate and momentum)",
    reference="paper's rule (learning rate and heavy-ball momentum set from the Hessian's extreme "
    "eigenvalues, lambda_max and lambda_min by stochastic Lanczos, as for a quadratic).",
  )
)
register(
  Entry(
    name="iterative_newton",
    factory=iterative_newton,
    defaults={"learning_rate": 1.0, "newton_iters": 3, "lanczos_iters": 10, "alpha_scale": 1.0},
    search_space={"learning_rate": LogRange(0.1, 1.0), "newton_iters": Choice((2, 3, 4))},
    needs=_HVP,
    ids=("T3-18",),
    tier=3,
    source="project",
    paper="Fu, Chen, Jia & Sharan, Transformers Learn Higher-Order Optimization Methods for "
    "In-Context Learning: A Study with Linear Models, arXiv:2310.17086 (Iterative Newton "
    "with Newton-Schulz inverse, applied through HVPs)",
    reference="paper's algorithm (iterative Newton: M_{j+1} = 2 M_j - M_j S M_j from M_0 = alpha "
    "S, alpha = c / lambda_max(S)^2 by Lanczos), the Newton direction M_k g.",
  )
)
_HARPG_PAPER = (
  "Fatkhullin, Barakat, Kireeva & He, Stochastic Policy Gradient Methods: Improved Sample "
  "Complexity for Fisher-non-degenerate Policies, arXiv:2302.01734 (recursions applied to a "
  "loss: batch gradient and HVP in place of the policy-gradient estimators)"
)
register(
  Entry(
    name="n_pg_igt",
    factory=n_pg_igt,
    defaults={"learning_rate": 0.01, "momentum_power": 0.8},
    search_space={"learning_rate": LogRange(1e-3, 1.0), "momentum_power": Choice((0.5, 0.8))},
    needs=("value_fn",),
    ids=("T3-20",),
    tier=3,
    source="project",
    paper=_HARPG_PAPER,
    reference="paper (Fatkhullin et al., N-PG-IGT: normalized momentum with implicit gradient "
    "transport, the gradient taken at an extrapolated point).",
  )
)
register(
  Entry(
    name="harpg",
    factory=harpg,
    defaults={"learning_rate": 0.01, "momentum_power": 1.0, "normalize": True},
    search_space={"learning_rate": LogRange(1e-3, 1.0), "normalize": Choice((True, False))},
    needs=_HVP,
    ids=("T3-20",),
    tier=3,
    source="project",
    paper=_HARPG_PAPER,
    reference="paper (Fatkhullin et al., (N-)HARPG: normalized momentum with a Hessian-aided "
    "correction along the segment between iterates), written for minimizing a loss.",
  )
)

register(
  Entry(
    name="fosi",
    factory=fosi,
    defaults={
      "learning_rate": 1e-3,
      "base": "adam",
      "momentum": 0.9,
      "alpha": 0.1,
      "num_eigs": 5,
      "lanczos_iters": 20,
      "update_interval": 100,
      "warmup": 100,
    },
    search_space={
      "learning_rate": LogRange(1e-4, 1e-1),
      "base": Choice(("adam", "momentum")),
      "alpha": LogRange(1e-2, 1.0),
    },
    needs=_HVP,
    ids=("T3-08",),
    tier=3,
    source="project",
    paper="Sivan, Gabel & Schuster, FOSI: Hybrid First and Second Order Optimization, "
    "arXiv:2302.08484",
    reference="paper's algorithm (Sivan et al., FOSI: Newton's step on the top-k Lanczos "
    "eigenspace, scaled by alpha, the base optimizer (Adam or momentum) on the orthogonal "
    "complement, the eigenspace refreshed every T steps after a warmup).",
  )
)
register(
  Entry(
    name="kfac",
    factory=kfac,
    defaults={
      "learning_rate": 1e-3,
      "decay": 0.95,
      "damping": 1e-3,
      "inverse_update_interval": 10,
      "momentum": 0.9,
      "weight_decay": 0.0,
    },
    search_space={
      "learning_rate": LogRange(1e-5, 1e-1),
      "damping": LogRange(1e-5, 1e-1),
      "inverse_update_interval": Choice((1, 10, 100)),
    },
    ids=("T3-04",),
    tier=3,
    source="project",
    paper="Martens & Grosse, Optimizing Neural Networks with Kronecker-factored Approximate "
    "Curvature, arXiv:1503.05671 (used by K-FAC Deep Hedging). Simplified: the Kronecker "
    "factors come from the weight gradient (W_g W_gᵀ, W_gᵀ W_g, exact for one example) since "
    "the extra args expose no layer activations",
    reference="paper (Martens & Grosse, K-FAC: Kronecker factors A, G with running averages, "
    "damped inverses refreshed every k steps). Kept: A and G estimated from the weight gradient "
    "(W_g W_g^T, W_g^T W_g scaled), exact for one example, since the extra args expose no "
    "activations.",
  )
)
register(
  Entry(
    name="adafisher",
    factory=adafisher,
    defaults={
      "learning_rate": 1e-3,
      "b1": 0.9,
      "gammas": (0.92, 0.008),
      "damping": 1e-3,
      "update_interval": 100,
      "weight_decay": 0.0,
    },
    search_space={
      "learning_rate": LogRange(1e-5, 1e-1),
      "damping": LogRange(1e-4, 1e-2),
      "weight_decay": LogRange(1e-5, 1e-1),
    },
    ids=("T3-03",),
    tier=3,
    source="project",
    paper="Gomes et al., AdaFisher: Adaptive Second Order Optimization via Fisher Information, "
    "arXiv:2405.16397. Simplified: the factor diagonals are the row and column energies of "
    "the gradient of [kernel; bias] (exact for one example after min-max normalization) since "
    "the extra args expose no layer activations; biases and norm vectors keep their own "
    "factors, embeddings and scalars F = 1, as in the authors' code; kept deviation: norm "
    "scales take their own S and H = 1 (the authors' come from activations)",
    reference="authors' code AtlasAnalyticsLab/AdaFisher@optimizers/AdaFisher.py (min-max "
    "normalized factor diagonals, gammas (0.92, 0.008), TCov; biases in the augmented [kernel; "
    "bias] factors, other vectors their own factors, embeddings F = 1). Kept: the factors come "
    "from the weight gradient (exact for one example) since the extra args expose no activations.",
  )
)


# --------------------------------------------------------------------------------------------
# Gauss-Newton family (T3-09 to T3-11): the model's outputs and the loss of those outputs come
# as the extra args `output_fn` and `loss_of_outputs` (`baselines.curvature.gauss_newton`).
# --------------------------------------------------------------------------------------------

register(
  Entry(
    name="egn",
    factory=egn,
    defaults={"learning_rate": 1.0, "damping": 1.0, "momentum": 0.0},
    search_space={
      "learning_rate": LogRange(1e-2, 1.0),
      "damping": LogRange(1e-3, 10.0),
      "momentum": Choice((0.0, 0.9)),
    },
    needs=_GN,
    ids=("T3-09",),
    tier=3,
    source="project",
    paper="Korbit, Adeoye, Bemporad & Zanon, Exact Gauss-Newton Optimization for Training Deep "
    "Neural Networks, arXiv:2405.14402",
    reference="paper Alg. 1 (d = J^T (Q J J^T + b lambda I)^-1 r, the regularized GGN step by the "
    "Duncan-Guttman identity; here H = Q / b and e = r / b of the mean loss) and the authors' "
    "code (EGN solver: regularizer 1.0, bias-corrected momentum of directions). Kept: a fixed "
    "step size (the paper's Armijo line search and adaptive lambda are options left out); J "
    "and H are materialized by m VJPs / loss-HVPs (m = outputs per batch) and the m x m system "
    "solved by LU (the authors factorize it); tests: equal to the parameter-space GGN solve, "
    "numpy reference on softmax regression.",
  )
)
register(
  Entry(
    name="sgn",
    factory=sgn,
    defaults={"learning_rate": 1.0, "damping": 1e-3, "cg_iters": 10},
    search_space={
      "learning_rate": LogRange(1e-2, 1.0),
      "damping": LogRange(1e-4, 1.0),
      "cg_iters": Choice((5, 10, 20)),
    },
    needs=_GN,
    ids=("T3-10",),
    tier=3,
    source="project",
    paper="Gargiani, Zanelli, Diehl & Hutter, On the Promise of the Stochastic Generalized "
    "Gauss-Newton Method for Training DNNs, arXiv:2006.02409 (the SGN baseline of EGN, "
    "arXiv:2405.14402)",
    reference="paper (Gargiani et al., SGN: (J^T H J + lambda I) d = g on each minibatch by CG "
    "with forward-mode JVPs and reverse-mode VJPs, step size 1). Kept: a fixed Tikhonov "
    "damping and CG budget; tests: numpy reference (explicit J and H, CG), equal to the exact "
    "damped GGN solve after d CG steps.",
  )
)
register(
  Entry(
    name="levenberg_marquardt",
    factory=levenberg_marquardt,
    defaults={"damping": 1e-3, "damping_kind": "marquardt", "cg_iters": 20},
    search_space={
      "damping": LogRange(1e-4, 1.0),
      "damping_kind": Choice(("marquardt", "levenberg")),
    },
    needs=_GN,
    ids=("T3-11",),
    tier=3,
    source="project",
    paper="Hoellein et al., 3DGS-LM: Faster Gaussian-Splatting Optimization with "
    "Levenberg-Marquardt, arXiv:2409.12892; Marquardt, An algorithm for least-squares "
    "estimation of nonlinear parameters (1963)",
    reference="paper (3DGS-LM: (J^T J + lambda diag(J^T J)) delta = -J^T r by Jacobi-"
    "preconditioned CG, adaptive lambda) with the generalized Gauss-Newton J^T H J for losses "
    "other than least squares; lambda adapted by Nielsen's gain-ratio rule (Madsen, Nielsen & "
    "Tingleff 2004, Alg. 3.16), a rejected step is a zero update. Kept: the 3DGS-specific "
    "caching, kernels and image-subset averaging are left out. Tests: numpy reference, "
    "lambda -> 0 is the Gauss-Newton step, lambda -> inf the scaled gradient step D^-1 g / lambda.",
  )
)


# --------------------------------------------------------------------------------------------
# T3-19 AdaSketch-Newton: equality-constrained problems (the extra arg constraint_fn)
# --------------------------------------------------------------------------------------------

register(
  Entry(
    name="exact_augmented_lagrangian_sketching",
    factory=exact_augmented_lagrangian_sketching,
    defaults={
      "num_constraints": 1,
      "penalty": 1.0,
      "nu": 0.01,
      "penalty_growth": 10.0,
      "sketch": "gaussian",
      "sketch_size": 8,
      "accuracy": 0.5,
      "max_sketch_iters": 50,
    },
    search_space={
      "penalty": LogRange(1e-2, 1e2),
      "nu": LogRange(1e-3, 1.0),
      "sketch": Choice(("gaussian", "kaczmarz")),
      "accuracy": LogRange(1e-2, 0.5),
    },
    needs=("value_fn", "constraint_fn", "key"),
    ids=("T3-19",),
    tier=3,
    source="project",
    paper="Hong, Na, Mahoney & Kolar, Constrained Optimization via Exact Augmented Lagrangian "
    "and Randomized Iterative Sketching (ICML 2023), arXiv:2305.18379",
    reference="paper (abstract and method as summarized in OPTIMIZERS.md; the authors' code "
    "was not found): the Lagrangian Newton system [H G^T; G 0] dz = -(grad_x L, c) by "
    "sketch-and-project (Gower & Richtarik; Gaussian or block-Kaczmarz sketches), the exact "
    "augmented Lagrangian L + mu/2 |c|^2 + nu/2 |grad_x L|^2 as Armijo merit, mu raised until "
    "dz descends. Kept: a fixed relative solver accuracy instead of the paper's adaptive "
    "condition (no superlinear variant), mu raised (not the solve redone) when dz does not "
    "descend, lambda_0 = 0, num_constraints fixed when built (the multipliers are state); "
    "defaults are ours. Tests (tests/test_constrained.py): numpy reference of three steps on "
    "the sphere task, convergence to the closed-form KKT point of the linear-constraint task.",
  )
)


# --------------------------------------------------------------------------------------------
# T3-06 MKOR / MKOR-H (gradient-only rank-1 vectors)
# --------------------------------------------------------------------------------------------

_MKOR_PAPER = (
  "Mozaffari, Li, Zhang & Mehri Dehnavi, MKOR: Momentum-Enabled Kronecker-Factor-Based "
  "Optimizer Using Rank-1 Updates, arXiv:2306.01685. Simplified: the rank-1 vectors of the "
  "Sherman-Morrison factor updates come from the weight gradient's leading singular pair "
  "(a = sqrt(s) u, delta = sqrt(s) v, by warm-started power iteration) instead of the batch "
  "means of layer inputs and output gradients, which the extra args do not expose"
)
_MKOR_DEFAULTS = {
  "learning_rate": 1e-2,
  "gamma": 0.9,
  "power_iters": 2,
  "max_inverse": 1e6,
  "momentum": 0.9,
  "weight_decay": 0.0,
}
register(
  Entry(
    name="mkor",
    factory=mkor,
    defaults=_MKOR_DEFAULTS,
    search_space={"learning_rate": LogRange(1e-4, 1.0), "gamma": Choice((0.5, 0.9, 0.99))},
    ids=("T3-06",),
    tier=3,
    source="project",
    paper=_MKOR_PAPER,
    reference="paper (Mozaffari et al., MKOR: Sherman-Morrison rank-1 updates of the Kronecker "
    "factors' inverses at every step, norm-based stabilization). Kept: the rank-1 vectors from "
    "the gradient's leading singular pair (power iteration) instead of the batch means of "
    "activations and output gradients.",
  )
)
register(
  Entry(
    name="mkor_h",
    factory=mkor_h,
    defaults={
      **_MKOR_DEFAULTS,
      "switch_threshold": 1e-3,
      "switch_decay": 0.9,
      "min_second_order_steps": 100,
    },
    search_space={"learning_rate": LogRange(1e-4, 1.0), "gamma": Choice((0.5, 0.9, 0.99))},
    needs=("grad", "value"),
    ids=("T3-06",),
    tier=3,
    source="project",
    paper=_MKOR_PAPER + "; MKOR-H switches to first-order steps once an EMA of the relative "
    "loss decrease falls below a threshold (our concrete form of the paper's rule)",
    reference="paper (MKOR-H: MKOR switching to first-order steps when the loss decrease stalls). "
    "Kept: as for mkor.",
  )
)
