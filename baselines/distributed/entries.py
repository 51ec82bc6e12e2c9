"""Registry entries of the distributed, communication-compressed, decentralized and federated
methods (inventory T6-01 to T6-15) and of KAISA (T3-05: distributed K-FAC).

Conventions (see `baselines.distributed.communication`): entries needing `devices` take a
static `num_workers`; gradients (and, for decentralized, local and federated methods,
parameters) carry a leading worker axis of that length. The default `num_workers=None` is the
single-worker case: no worker axis at all, so the generic registry checks run them on plain
gradients. Every state has a `bits` field (bits one worker sent last step);
`communication.compression_ratio` divides by 32 bits per coordinate. The entry format is in
the module docstring of `baselines.registry`.
"""

from __future__ import annotations

import dataclasses

from baselines.distributed._decentralized_adam import decentralized_adam
from baselines.distributed._dgc import dgc
from baselines.distributed._distributed_lion import distributed_lion
from baselines.distributed._dsgd import dsgd
from baselines.distributed._ef21 import ef21, ef21_w
from baselines.distributed._error_feedback import ef_sgd, topk_sgd
from baselines.distributed._fedopt import fedadagrad, fedadam, fedyogi
from baselines.distributed._kaisa import kaisa
from baselines.distributed._local_sgd import fedavg, local_sgd
from baselines.distributed._monna import monna
from baselines.distributed._onebit_adam import onebit_adam
from baselines.distributed._sketched_sgd import sketched_sgd
from baselines.distributed._terngrad import terngrad
from baselines.registry import Choice, Entry, LogRange, register

_SGD_LR = LogRange(1e-3, 1.0)
_ADAPTIVE_LR = LogRange(1e-4, 1e-1)
_DIST = ("grad", "devices")
_DIST_KEY = ("grad", "key", "devices")

_EF21 = (
  "Richtárik et al., EF21: A New, Simpler, Theoretically Better, and Practically Faster Error "
  "Feedback, arXiv:2106.05203; Richtárik et al., Error Feedback Reloaded: From Quadratic to "
  "Arithmetic Mean of Smoothness Constants, arXiv:2402.10774"
)
_FEDOPT = "Reddi et al., Adaptive Federated Optimization, arXiv:2003.00295"

for _entry in (
  Entry(
    name="onebit_adam",
    factory=onebit_adam,
    defaults={"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "warmup_steps": 100},
    search_space={"learning_rate": _ADAPTIVE_LR, "warmup_steps": Choice((50, 100, 1000))},
    needs=_DIST,
    ids=("T6-01",),
    paper="Tang et al., 1-bit Adam: Communication Efficient Large-Scale Training with Adam's "
    "Convergence Speed, arXiv:2102.02888",
    reference="paper Alg. 1 (Tang et al., 1-bit Adam: Adam warmup, then frozen variance and "
    "error-compensated 1-bit momentum, worker and server errors).",
  ),
  Entry(
    name="distributed_lion",
    factory=distributed_lion,
    defaults={"learning_rate": 1e-4, "b1": 0.9, "b2": 0.99, "weight_decay": 0.0},
    search_space={
      "learning_rate": LogRange(1e-5, 1e-1),
      "aggregation": Choice(("majority_vote", "average")),
    },
    needs=_DIST,
    ids=("T6-02",),
    paper="Liu et al., Communication Efficient Distributed Training with Distributed Lion, "
    "arXiv:2404.00438",
    reference="paper's algorithm (Liu et al., Distributed Lion: each worker's Lion sign update, "
    "majority vote or average at the server, decoupled weight decay).",
  ),
  Entry(
    name="ef_sgd",
    factory=ef_sgd,
    defaults={"learning_rate": 0.1, "compressor": "scaled_sign", "k_fraction": 0.1},
    search_space={"learning_rate": _SGD_LR, "compressor": Choice(("scaled_sign", "top_k"))},
    needs=_DIST,
    ids=("T6-03",),
    paper="Seide et al., 1-Bit Stochastic Gradient Descent and its Application to Data-Parallel "
    "Distributed Training of Speech DNNs (Interspeech 2014); Karimireddy et al., Error Feedback "
    "Fixes SignSGD and other Gradient Compression Schemes, arXiv:1901.09847",
    reference="papers (Seide et al.'s 1-bit SGD with error feedback, Karimireddy et al.'s EF with "
    "the scaled sign |p|_1/d sign(p)).",
  ),
  Entry(
    name="ef21",
    factory=ef21,
    defaults={"learning_rate": 0.1, "compressor": "top_k", "k_fraction": 0.1},
    search_space={"learning_rate": _SGD_LR, "k_fraction": Choice((0.01, 0.1, 0.5))},
    needs=_DIST,
    ids=("T6-04",),
    paper=_EF21,
    reference="paper Alg. 1 (Richtarik et al., EF21: g_i <- g_i + C(grad_i - g_i), the server "
    "averages the g_i).",
  ),
  Entry(
    name="ef21_w",
    factory=ef21_w,
    defaults={"learning_rate": 0.1, "compressor": "top_k", "k_fraction": 0.1},
    search_space={"learning_rate": _SGD_LR, "k_fraction": Choice((0.01, 0.1, 0.5))},
    needs=_DIST,
    ids=("T6-05",),
    paper=_EF21,
    reference="paper (EF21-W: EF21 with the workers' estimates weighted by their smoothness "
    "constants; equal weights without them).",
  ),
  Entry(
    name="topk_sgd",
    factory=topk_sgd,
    defaults={"learning_rate": 0.1, "k_fraction": 0.1},
    search_space={"learning_rate": _SGD_LR, "k_fraction": Choice((0.01, 0.1, 0.5))},
    needs=_DIST,
    ids=("T6-06",),
    paper=_EF21,
    reference="papers' Top-K sparsified aggregation without error feedback (the biased baseline "
    "EF fixes).",
  ),
  Entry(
    name="dgc",
    factory=dgc,
    defaults={"learning_rate": 0.1, "momentum": 0.9, "sparsity": 0.999, "warmup_steps": 0},
    search_space={"learning_rate": _SGD_LR, "sparsity": Choice((0.99, 0.999))},
    needs=_DIST,
    ids=("T6-07",),
    paper="Lin et al., Deep Gradient Compression: Reducing the Communication Bandwidth for "
    "Distributed Training, arXiv:1712.01887",
    reference="paper (Lin et al., DGC: momentum correction, local gradient clipping, Top-K with "
    "accumulation, momentum factor masking, exponential sparsity warmup).",
  ),
  Entry(
    name="terngrad",
    factory=terngrad,
    defaults={"learning_rate": 0.01, "momentum": 0.9, "clip_sigma": 2.5},
    search_space={"learning_rate": _SGD_LR},
    needs=_DIST_KEY,
    ids=("T6-08",),
    paper="Wen et al., TernGrad: Ternary Gradients to Reduce Communication in Distributed Deep "
    "Learning, arXiv:1705.07878",
    reference="paper (Wen et al., TernGrad: per-tensor scale max|g|, stochastic ternarization, "
    "layer-wise clipping at 2.5 sigma).",
  ),
  Entry(
    name="sketched_sgd",
    factory=sketched_sgd,
    defaults={"learning_rate": 0.1, "ratio": 0.1, "sketch": "count", "noise_std": 0.0},
    search_space={"learning_rate": _SGD_LR, "ratio": Choice((0.05, 0.1, 0.5))},
    needs=_DIST_KEY,
    ids=("T6-09",),
    paper="Song et al., Sketching for First Order Method: Efficient Algorithm for Low-Bandwidth "
    "Channel and Vulnerability, arXiv:2210.08371",
    reference="paper's algorithm (a shared random sketch R per tensor (CountSketch or Gaussian), "
    "workers send R g plus optional Gaussian noise, the server desketches with R^T).",
  ),
  Entry(
    name="local_sgd",
    factory=local_sgd,
    defaults={"learning_rate": 1e-2, "sync_period": 4, "scaling": "adam", "b2": 0.999},
    search_space={
      "learning_rate": LogRange(1e-4, 1.0),
      "sync_period": Choice((1, 4, 16)),
      "scaling": Choice(("adam", "rmsprop", "identity")),
    },
    needs=_DIST,
    ids=("T6-10",),
    paper="Chezhegov et al., Local Methods with Adaptivity via Scaling, arXiv:2406.00846",
    reference="paper (local SGD with diagonal scaling: local Adam / RMSProp preconditioned steps, "
    "parameters averaged every sync_period steps).",
  ),
  Entry(
    name="decentralized_adam",
    factory=decentralized_adam,
    defaults={"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "accum_steps": 4},
    search_space={"learning_rate": _ADAPTIVE_LR, "accum_steps": Choice((1, 4))},
    needs=_DIST,
    ids=("T6-11",),
    paper="Wang et al., From promise to practice: realizing high-performance decentralized "
    "training, arXiv:2410.11998",
    reference="paper's algorithm (decentralized Adam with gradient accumulation and communication "
    "overlap: gossip on a ring or given mixing matrix).",
  ),
  Entry(
    name="dsgd",
    factory=dsgd,
    defaults={"learning_rate": 0.1, "momentum": 0.0, "topology": "ring"},
    search_space={"learning_rate": _SGD_LR, "momentum": Choice((0.0, 0.9))},
    needs=_DIST,
    ids=("T6-12",),
    paper="Lian et al., Can Decentralized Algorithms Outperform Centralized Algorithms? "
    "arXiv:1705.09056",
    reference="paper (Lian et al., D-PSGD: x_i <- sum_j W_ij x_j - lr g_i with a doubly "
    "stochastic W).",
  ),
  Entry(
    name="monna",
    factory=monna,
    defaults={"learning_rate": 0.1, "momentum": 0.9, "num_byzantine": 0},
    search_space={"learning_rate": _SGD_LR},
    needs=_DIST,
    ids=("T6-13",),
    paper="Farhadkhani et al., Robust Collaborative Learning with Linear Gradient Overhead, "
    "arXiv:2209.10931",
    reference="paper's algorithm (MoNNA: local Polyak momentum, then averaging over the nearest "
    "neighbours in parameter space, robust to f Byzantine workers).",
  ),
  Entry(
    name="fedavg",
    factory=fedavg,
    defaults={"learning_rate": 0.1, "local_steps": 5},
    search_space={"learning_rate": _SGD_LR, "local_steps": Choice((1, 5, 20))},
    needs=_DIST,
    ids=("T6-14",),
    paper="McMahan et al., Communication-Efficient Learning of Deep Networks from Decentralized "
    "Data, arXiv:1602.05629",
    reference="paper (McMahan et al., FedAvg: local SGD steps, the server averages the clients' "
    "parameters; full participation).",
  ),
  Entry(
    name="fedadagrad",
    factory=fedadagrad,
    defaults={"learning_rate": 0.1, "client_learning_rate": 0.1, "tau": 1e-3, "local_steps": 5},
    search_space={"learning_rate": LogRange(1e-3, 1.0), "client_learning_rate": _SGD_LR},
    needs=_DIST,
    ids=("T6-15",),
    paper=_FEDOPT,
    reference="paper Alg. 2 (Reddi et al., Adaptive Federated Optimization: the server's AdaGrad "
    "on the averaged client delta, tau 1e-3).",
  ),
  Entry(
    name="fedadam",
    factory=fedadam,
    defaults={
      "learning_rate": 0.01,
      "client_learning_rate": 0.1,
      "b1": 0.9,
      "b2": 0.99,
      "tau": 1e-3,
      "local_steps": 5,
    },
    search_space={"learning_rate": LogRange(1e-3, 1.0), "client_learning_rate": _SGD_LR},
    needs=_DIST,
    ids=("T6-15",),
    paper=_FEDOPT,
    reference="paper Alg. 2 (Reddi et al.: the server's Adam on the averaged client delta, "
    "tau 1e-3). Kept: optax.adam's bias correction and zero initial v (the paper has neither; "
    "the same first step, a transient difference after).",
  ),
  Entry(
    name="fedyogi",
    factory=fedyogi,
    defaults={
      "learning_rate": 0.01,
      "client_learning_rate": 0.1,
      "b1": 0.9,
      "b2": 0.99,
      "tau": 1e-3,
      "local_steps": 5,
    },
    search_space={"learning_rate": LogRange(1e-3, 1.0), "client_learning_rate": _SGD_LR},
    needs=_DIST,
    ids=("T6-15",),
    paper=_FEDOPT,
    reference="paper Alg. 2 (Reddi et al.: the server's Yogi on the averaged client delta, "
    "tau 1e-3). Kept: optax.yogi's bias correction (the paper has none).",
  ),
):
  register(dataclasses.replace(_entry, tier=6, source="project"))
register(
  Entry(
    name="kaisa",
    factory=kaisa,
    defaults={
      "learning_rate": 1e-3,
      "grad_worker_fraction": 1.0,
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
    needs=_DIST,
    ids=("T3-05",),
    tier=3,
    paper="Pauloski et al., KAISA: An Adaptive Second-Order Optimizer Framework for Deep Neural "
    "Networks, arXiv:2107.01739 (named by MKOR, arXiv:2306.01685)",
    reference="authors' code gpauloski/kfac-pytorch@kfac/assignment.py (KAISAAssignment: G = "
    "max(1, N * fraction) gradient workers, the G x N/G grid whose columns are gradient-worker "
    "groups and rows receiver groups, greedy placement of the inverses by cost, inverses "
    "broadcast when G > 1, preconditioned gradients broadcast when G < N); the same update as "
    "kfac with one worker and for every fraction (tests/test_kaisa.py). Kept: kfac's factors "
    "from each worker's weight gradient (the extra args expose no activations), all-reduced; "
    "placement simulated on the worker axis (the inverses computed once and copied to the G "
    "gradient workers, which precondition under a vmap); bits counted, not timed.",
  )
)
