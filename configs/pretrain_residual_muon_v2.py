"""Pretraining recipe of `residual_muon_v2` (issue 15): v1's recipe with an odd residual and
vector-parameter problems among the meta-training families.

    python -m meta_train.main --config=configs/pretrain_residual_muon_v2.py --workdir=runs/v2

What changed from `configs/pretrain_residual_muon.py` (v1), and why: v1 trained the held-out
MLPs well but was far behind its own starting point (Muon with linear decay) on the META_TEST
problems whose parameters are one vector (a 100-d quadratic, a 10-d Rosenbrock). Its residual
for 1-D tensors had only seen biases, and an MLP's output bias is a constant drift that does
not vanish near an optimum. So:
- `odd_residual=True`: the residual is the MLP's odd part under p -> -p (no drift; on v1's
  theta alone it takes the 100-d quadratic's final loss from 8.4 to 1.2);
- two more families from the meta-training split: quadratics (10-d, condition up to 1e3,
  gradient noise) and 2-d Rosenbrock functions (random starts, noisy targets);
- META_VALID gained a 30-d quadratic and a 4-d Rosenbrock, to choose on.
Everything else is v1's recipe (PES, truncations of 50 steps, horizons 100–2000 steps
log-uniform, staggered members, 8 antithetic pairs per family, std 0.01, validation-loss
meta-objective, Adam at 1e-3 on theta).
"""

import ml_collections

from configs import pretrain_residual_muon


def get_config() -> ml_collections.ConfigDict:
  config = pretrain_residual_muon.get_config()
  config.lopt.odd_residual = True
  config.tasks.quadratic = {"dim": 10, "log10_condition": (0.0, 3.0), "noise": (0.0, 0.5)}
  config.tasks.rosenbrock = {"dim": 2, "init_noise": (0.0, 0.5), "noise": (0.0, 0.1)}
  return config
