"""Pretraining recipe of `residual_muon_v4` (issue 15): v3's families from v2's shipped step,
each family's meta-gradient one vote.

    python -m meta_train.main --config=configs/pretrain_residual_muon_v4.py --workdir=runs/v4

Why: v3 (v2's meta-step 13,000 fine-tuned with a transformer and an LSTM character LM beside
v2's four families) did not move on META_VALID's transformer in 1,156 meta-steps. The
hypothesis tested here: the meta-step averaged the families' estimates, so the families whose
meta-loss moves most with theta (a quadratic's log-scale loss, the MLPs' large early drops)
set its direction and the LMs' signal was lost. v4 divides each family's estimate by its norm
before averaging (`meta_opt.combine_families = "unit_norm"`; the norms are logged as
`<family>/meta_grad_norm`), and starts from `pretrained:residual_muon_v2` (meta-step 1,500,
which still reached the transformer's target) rather than from step 13,000. Everything else
is v3's recipe: PES, truncations of 50 steps, horizons log-uniform in [100, 2000], 8
antithetic pairs per family, std 0.01, the validation-loss meta-objective, Adam at 3e-4.
"""

import ml_collections

from configs import pretrain_residual_muon_v3


def get_config() -> ml_collections.ConfigDict:
  config = pretrain_residual_muon_v3.get_config()
  config.init_from = "pretrained:residual_muon_v2"
  config.meta_opt.combine_families = "unit_norm"
  config.num_steps = 6000
  return config
