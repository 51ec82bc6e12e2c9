"""Pretraining recipe of `residual_muon_v5` (issue 15): v4's recipe from the shipped v4 with a
learned, signal-to-noise-dependent step size (`ResidualMuon.snr_step`).

    python -m meta_train.main --config=configs/pretrain_residual_muon_v5.py --workdir=runs/v5

Why: the rule's direction is scale-free (the residual is added before the orthogonalization),
so its step size depends on t/T alone, one size for every task. On META_TEST the shipped
`residual_muon_v4` is slower than Muon at its constant 0.02 on the 100-d noisy quadratic,
the Fashion-MNIST MLPs and the Bible LSTM, and the previous default's large learned step hurt
the noisier models (a width-96 transformer, the Fashion-MNIST models). `snr_step` multiplies
each tensor's step by exp(a (2 ρ - 1)), ρ the tensor's gradient signal-to-noise ratio
mean(m̂²) / mean(v̂) and a learned per kind (matrices, vectors), zero at the start: the rule
starts as v4 exactly and can learn to step by how consistent the gradients are. Everything
else is v4's recipe (six families, unit-norm family votes, PES, Adam at 3e-4).
"""

import ml_collections

from configs import pretrain_residual_muon_v4


def get_config() -> ml_collections.ConfigDict:
  config = pretrain_residual_muon_v4.get_config()
  config.lopt.snr_step = True
  # `pretrained:residual_muon_v4` with theta["snr"] = 0 added (the same rule).
  config.init_from = "long_runs/residual_muon_v5/init_v4_s500"
  return config
