"""Low-rank, subspace and block-coordinate optimizers (GaLore, APOLLO, Fira, FRUGAL, GWT, BAdam,
LISA, ...) on the shared projection toolkit `baselines.lowrank.projection`.

One file per rule (`_<name>.py`: its state, `scale_by_<name>`, aliases); `entries.py`
registers them. Everything listed in `__all__` is re-exported by `baselines`.
"""

from baselines.lowrank import entries as entries
from baselines.lowrank._apollo import ScaleByApolloState, apollo, apollo_mini, scale_by_apollo
from baselines.lowrank._badam import ScaleByBadamState, badam, scale_by_badam
from baselines.lowrank._fira import ScaleByFiraState, fira, scale_by_fira
from baselines.lowrank._frugal import ScaleByFrugalState, frugal, scale_by_frugal
from baselines.lowrank._gwt import ScaleByGwtState, gwt, scale_by_gwt
from baselines.lowrank._lisa import ScaleByLisaState, lisa, scale_by_lisa
from baselines.lowrank._online_subspace_descent import (
  ScaleByOnlineSubspaceDescentState,
  online_subspace_descent,
  scale_by_online_subspace_descent,
)
from baselines.lowrank._subspace_momentum import (
  ScaleBySubspaceMomentumState,
  scale_by_subspace_momentum,
  subspace_momentum,
)

__all__ = [
  "ScaleByApolloState",
  "ScaleByBadamState",
  "ScaleByFiraState",
  "ScaleByFrugalState",
  "ScaleByGwtState",
  "ScaleByLisaState",
  "ScaleByOnlineSubspaceDescentState",
  "ScaleBySubspaceMomentumState",
  "apollo",
  "apollo_mini",
  "badam",
  "fira",
  "frugal",
  "gwt",
  "lisa",
  "online_subspace_descent",
  "scale_by_apollo",
  "scale_by_badam",
  "scale_by_fira",
  "scale_by_frugal",
  "scale_by_gwt",
  "scale_by_lisa",
  "scale_by_online_subspace_descent",
  "scale_by_subspace_momentum",
  "subspace_momentum",
]
