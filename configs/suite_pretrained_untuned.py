"""The issue-15 minimum bar on META_TEST: the shipped rule untuned against every untuned peer.

    python -m baselines.compare --config=configs/suite_pretrained_untuned.py

`configs/suite_pretrained.py` with one tuned column only, the target (AdamW tuned per task
over its 8-point learning-rate grid, on 3 tuning seeds, the selected rate rerun), and every
other column untuned, at its defaults, on the same 3 fresh seeds: Adam at lr 1e-3, Muon at
its defaults with and without linear decay to zero, D-Adaptation, DoG, Prodigy,
Schedule-Free AdamW, and the shipped learned rules. It answers "does a user who would not
tune do better with our rule?" at a fraction of the full suite's cost (about one tuned
column instead of six); the full suite adds the tuned peers.
"""

from configs import suite_pretrained


def get_config():
  config = suite_pretrained.get_config()
  config.name = "suite_pretrained_untuned"
  config.outdir = "runs/suite_pretrained_untuned"
  config.optimizers = ("adamw",)
  config.untuned = ("adam", "muon", *suite_pretrained.get_config().untuned)
  config.learned = (
    "pretrained:residual_muon_v1",
    "pretrained:residual_muon_v2",
    suite_pretrained.SHIPPED,
  )
  config.learned_tuned = ()
  return config
