"""Hand-designed optimizers as optax transforms, and the registry that names them.

>>> import baselines
>>> opt = baselines.get("adamw", learning_rate=1e-3)
>>> baselines.names()[:3]
['adabelief', 'adabound', 'adadagrad']
>>> tx = baselines.scale_by_adabound()  # every rule's transform, as optax exposes its own

One subpackage per family of methods, each holding its rules (`_<name>.py`: state,
`scale_by_<name>`, aliases) and its registry entries (`entries.py`):

  sgd_family    SGD, momentum, sign descent      adam_family   Adam and per-coordinate rules
  layerwise     per-tensor step sizes            memory        factored / quantized state
  lowrank       low-rank and subspace methods    matrix        Shampoo, SOAP, Muon, ...
  curvature     second-order methods             zeroth_order  loss values only
  wrappers      around any optimizer             schedules     learning-rate schedules
  step_size     learning-rate-free, Polyak       distributed   compressed, federated
  privacy       differentially private           merging       averaging (not steps)

The rules, transforms and aliases of every family but `merging` are re-exported here.
`baselines.suite` is the comparison suite (it imports `tasks` and `learned_opt`); nothing
here imports it.
"""

from baselines import (
  adam_family,
  curvature,
  distributed,
  layerwise,
  lowrank,
  matrix,
  memory,
  privacy,
  schedules,
  sgd_family,
  step_size,
  wrappers,
  zeroth_order,
)
from baselines import merging as merging  # not re-exported: procedures, not steps
from baselines.adam_family import *  # noqa: F403
from baselines.curvature import *  # noqa: F403
from baselines.distributed import *  # noqa: F403
from baselines.layerwise import *  # noqa: F403
from baselines.lowrank import *  # noqa: F403
from baselines.matrix import *  # noqa: F403
from baselines.memory import *  # noqa: F403
from baselines.privacy import *  # noqa: F403
from baselines.registry import (
  Choice,
  Entry,
  LogRange,
  entries,
  entry,
  get,
  names,
  register,
)
from baselines.schedules import *  # noqa: F403
from baselines.sgd_family import *  # noqa: F403
from baselines.state_bytes import state_bytes
from baselines.step_size import *  # noqa: F403
from baselines.wrappers import *  # noqa: F403
from baselines.zeroth_order import *  # noqa: F403

__all__ = [
  "Choice",
  "Entry",
  "LogRange",
  "entries",
  "entry",
  "get",
  "names",
  "register",
  "state_bytes",
  *adam_family.__all__,
  *curvature.__all__,
  *distributed.__all__,
  *layerwise.__all__,
  *lowrank.__all__,
  *matrix.__all__,
  *memory.__all__,
  *privacy.__all__,
  *schedules.__all__,
  *sgd_family.__all__,
  *step_size.__all__,
  *wrappers.__all__,
  *zeroth_order.__all__,
]
