"""Second-order and curvature methods: Sophia, L-BFGS, AdaHessian, OASIS, K-FAC, M-FAC, IVON,
FOSI, MKOR, ... `baselines.curvature.hessian` holds what they share: HVPs from `value_fn`,
Hutchinson probes, Lanczos, conjugate gradients; `baselines.curvature.gauss_newton` the
Gauss-Newton products from `output_fn` / `loss_of_outputs` (EGN, SGN, Levenberg-Marquardt).

One file per rule (`_<name>.py`: its state, `scale_by_<name>`, aliases); `entries.py`
registers them. Everything listed in `__all__` is re-exported by `baselines`.
"""

from baselines.curvature import entries as entries
from baselines.curvature._adafisher import ScaleByAdaFisherState, adafisher, scale_by_adafisher
from baselines.curvature._adahessian import ScaleByAdaHessianState, adahessian, scale_by_adahessian
from baselines.curvature._egn import ScaleByEgnState, egn, scale_by_egn
from baselines.curvature._exact_augmented_lagrangian import (
  ExactAugmentedLagrangianState,
  exact_augmented_lagrangian_sketching,
)
from baselines.curvature._fosi import FosiState, fosi
from baselines.curvature._grad_reg_newton import grad_reg_newton, scale_by_grad_reg_newton
from baselines.curvature._harpg import ScaleByHarpgState, harpg, n_pg_igt, scale_by_harpg
from baselines.curvature._iterative_newton import iterative_newton, scale_by_iterative_newton
from baselines.curvature._ivon import ScaleByIvonState, ivon, scale_by_ivon
from baselines.curvature._kfac import ScaleByKfacState, kfac, scale_by_kfac
from baselines.curvature._levenberg_marquardt import LevenbergMarquardtState, levenberg_marquardt
from baselines.curvature._mfac import ScaleByMFacState, mfac, scale_by_mfac
from baselines.curvature._mkor import ScaleByMkorState, mkor, mkor_h, scale_by_mkor
from baselines.curvature._oasis import ScaleByOasisState, oasis, scale_by_oasis
from baselines.curvature._optax_second_order import hutchinson_newton, lbfgs, sophia
from baselines.curvature._sgn import scale_by_sgn, sgn
from baselines.curvature._slq_momentum import (
  ScaleBySlqMomentumState,
  scale_by_slq_momentum,
  slq_momentum,
)

__all__ = [
  "ExactAugmentedLagrangianState",
  "FosiState",
  "LevenbergMarquardtState",
  "ScaleByAdaFisherState",
  "ScaleByAdaHessianState",
  "ScaleByEgnState",
  "ScaleByHarpgState",
  "ScaleByIvonState",
  "ScaleByKfacState",
  "ScaleByMFacState",
  "ScaleByMkorState",
  "ScaleByOasisState",
  "ScaleBySlqMomentumState",
  "adafisher",
  "adahessian",
  "egn",
  "exact_augmented_lagrangian_sketching",
  "fosi",
  "grad_reg_newton",
  "harpg",
  "hutchinson_newton",
  "iterative_newton",
  "ivon",
  "kfac",
  "lbfgs",
  "levenberg_marquardt",
  "mfac",
  "mkor",
  "mkor_h",
  "n_pg_igt",
  "oasis",
  "scale_by_adafisher",
  "scale_by_adahessian",
  "scale_by_egn",
  "scale_by_grad_reg_newton",
  "scale_by_harpg",
  "scale_by_iterative_newton",
  "scale_by_ivon",
  "scale_by_kfac",
  "scale_by_mfac",
  "scale_by_mkor",
  "scale_by_oasis",
  "scale_by_sgn",
  "scale_by_slq_momentum",
  "sgn",
  "slq_momentum",
  "sophia",
]
