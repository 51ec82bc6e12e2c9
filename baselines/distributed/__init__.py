"""Distributed, communication-compressed, decentralized and federated optimizers (1-bit Adam,
EF21, DGC, TernGrad, local SGD, D-SGD, FedOpt, KAISA's distributed K-FAC, ...).
`baselines.distributed.communication` holds the worker axis, compressors, mixing matrices and
communicated-bit counts.

One file per rule (`_<name>.py`: its state, `scale_by_<name>`, aliases); `entries.py`
registers them. Everything listed in `__all__` is re-exported by `baselines`.
"""

from baselines.distributed import entries as entries
from baselines.distributed._decentralized_adam import (
  ScaleByAccumAdamState,
  decentralized_adam,
  scale_by_accum_adam,
)
from baselines.distributed._dgc import ScaleByDGCState, dgc, scale_by_dgc
from baselines.distributed._distributed_lion import (
  ScaleByDistributedLionState,
  distributed_lion,
  scale_by_distributed_lion,
)
from baselines.distributed._dsgd import GossipState, dsgd
from baselines.distributed._ef21 import ScaleByEF21State, ef21, ef21_w, scale_by_ef21
from baselines.distributed._error_feedback import (
  ScaleByCompressedMeanState,
  ScaleByErrorFeedbackState,
  ef_sgd,
  scale_by_compressed_mean,
  scale_by_error_feedback,
  topk_sgd,
)
from baselines.distributed._fedopt import FedOptState, fed_opt, fedadagrad, fedadam, fedyogi
from baselines.distributed._kaisa import ScaleByKaisaState, kaisa, scale_by_kaisa
from baselines.distributed._local_sgd import LocalSGDState, fedavg, local_sgd
from baselines.distributed._monna import NearestNeighborAverageState, monna
from baselines.distributed._onebit_adam import (
  ScaleByOnebitAdamState,
  onebit_adam,
  scale_by_onebit_adam,
)
from baselines.distributed._sketched_sgd import ScaleBySketchState, scale_by_sketch, sketched_sgd
from baselines.distributed._terngrad import ScaleByTernGradState, scale_by_terngrad, terngrad

__all__ = [
  "FedOptState",
  "GossipState",
  "LocalSGDState",
  "NearestNeighborAverageState",
  "ScaleByAccumAdamState",
  "ScaleByCompressedMeanState",
  "ScaleByDGCState",
  "ScaleByDistributedLionState",
  "ScaleByEF21State",
  "ScaleByErrorFeedbackState",
  "ScaleByKaisaState",
  "ScaleByOnebitAdamState",
  "ScaleBySketchState",
  "ScaleByTernGradState",
  "decentralized_adam",
  "dgc",
  "distributed_lion",
  "dsgd",
  "ef21",
  "ef21_w",
  "ef_sgd",
  "fed_opt",
  "fedadagrad",
  "fedadam",
  "fedavg",
  "fedyogi",
  "kaisa",
  "local_sgd",
  "monna",
  "onebit_adam",
  "scale_by_accum_adam",
  "scale_by_compressed_mean",
  "scale_by_dgc",
  "scale_by_distributed_lion",
  "scale_by_ef21",
  "scale_by_error_feedback",
  "scale_by_kaisa",
  "scale_by_onebit_adam",
  "scale_by_sketch",
  "scale_by_terngrad",
  "sketched_sgd",
  "terngrad",
  "topk_sgd",
]
