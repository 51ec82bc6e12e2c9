"""Choosing a nowcaster's `every` and `ahead` on META_VALID, by NiNo's protocol.

    python -m baselines.compare --config=configs/suite_nino_valid.py \
        --config.learned='("runs/nino_zoo_e100_a5", "runs/nino_zoo_e200_a10")'

`configs/suite_nino.py` on the four META_VALID tasks with a neural graph (an MLP of width 48
with silu, a 48x48 gelu MLP and a logistic regression on the MNIST subset, the width-48
Shakespeare transformer): each `config.learned` checkpoint is one candidate setting (a
nowcaster's checkpoint saved again with other `every` / `ahead`, `learned_opt.save`). The
rule, stated before looking: the highest IQM speedup over Adam at 1e-3 (NiNo's steps to
its target), then the lowest IQM final-loss ratio. The protocol is
`configs/suite_meta_valid.py`'s, so its `adam.jsonl` and `adamw.jsonl` cells can be copied
into `outdir/cells/<task>/` and are then not rerun.
"""

from configs import suite_nino

COVERED = (
  "digits_mlp_48_silu",
  "mnist_subset_mlp_48x48_gelu",
  "mnist_subset_logreg",
  "shakespeare_transformer_w48",
)


def get_config():
  config = suite_nino.get_config()
  config.name = "suite_nino_valid"
  config.outdir = "runs/suite_nino_valid"
  config.tasks = COVERED
  config.learned = ()
  return config
