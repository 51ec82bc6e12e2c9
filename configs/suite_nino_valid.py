"""Choosing a nowcaster's use settings on META_VALID, by NiNo's protocol.

    python -m baselines.compare --config=configs/suite_nino_valid.py \
        --config.learned='("runs/nino_zoo_e100_a5", "runs/nino_zoo_e200_a10")'

`configs/suite_nino.py` on the META_VALID tasks with a neural graph: each `config.learned`
checkpoint is one candidate setting (a nowcaster's checkpoint saved again with other
`every` / `ahead` / `jump_scales`, `learned_opt.save`). The target is the final validation
loss of Adam at 1e-3 (an untuned column here: no tuned Adam is run); tuned AdamW is reported
beside it. The rule, stated before looking: the highest IQM speedup over Adam at 1e-3
(NiNo's steps to its target), then the lowest IQM final-loss ratio. The protocol is
`configs/suite_meta_valid.py`'s, so its `adam.jsonl` and `adamw.jsonl` cells can be copied
into `outdir/cells/<task>/` and are then not rerun.

Until 2026-12-08 this suite had the first four tasks only (the choices recorded in the
`nino_zoo*` cards were made on those); META_VALID's tasks at widths 96 to 256 joined then.
"""

from configs import suite_nino
from tasks.heldout import META_VALID

COVERED = suite_nino.with_neural_graph(META_VALID)


def get_config():
  config = suite_nino.get_config()
  config.name = "suite_nino_valid"
  config.outdir = "runs/suite_nino_valid"
  config.tasks = COVERED
  config.optimizers = ("adamw",)
  config.untuned = ("adam",)
  config.defaults_column = False
  config.learned = ()
  return config
