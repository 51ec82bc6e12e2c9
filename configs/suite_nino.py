"""NiNo's protocol on META_TEST: steps for the shipped nowcaster to reach the validation loss
that its base Adam reaches, on tasks no trajectory of its recipe came from.

    python -m baselines.compare --config=configs/suite_nino.py \
        [--config.learned='("runs/nino_zoo",)'] [--config.outdir=runs/suite_nino]
    # the suite's protocol, the same cells: steps to tuned AdamW's final validation loss
    python -m baselines.compare --config=configs/suite_nino.py --config.reference=adamw \
        --config.outdir=runs/suite_nino_adamw   # after copying runs/suite_nino/cells there

The reference is `adam@defaults` (Adam at 1e-3, the nowcaster's base learning rate, an
untuned column): its final validation loss is each task's target, and the report's steps to
target and speedup are NiNo's "steps to reach Adam's target". Tuned AdamW (the suite's
target) is reported beside it (until 2026-12-08 also tuned Adam and AdamW at 1e-3). Tasks:
the 13 META_TEST tasks with a neural graph (the 100-d quadratic and the 10-d Rosenbrock have
no layers: the nowcaster would leave Adam alone); the Bible transformer's attention is left
to Adam (no `num_heads` in a suite column).

The protocol is `configs/suite_pretrained_untuned.py`'s (1000 steps, 20 evaluations of 8
batches, 3 fresh seeds 1000..1002, 8-point tuning grids on seeds 0..2), so the `adam.jsonl`
(Adam at its defaults) and `adamw.jsonl` cells of a finished run of that suite can be copied
into `outdir/cells/<task>/` and are then not rerun (`long_runs/suite_nino` did this). The
seeds are vmapped, but the jump's step count is not batched, so its `lax.cond` stays a
branch: the nowcaster runs only at the jumps. Wall time per step is `python -m
bench.nowcast`'s, not this suite's.
"""

from configs import suite_pretrained_untuned
from tasks.heldout import META_TEST


def with_neural_graph(task_names) -> tuple[str, ...]:
  """The tasks of `task_names` with layers to nowcast: the quadratics and Rosenbrock functions
  are one vector, which the nowcaster leaves to Adam."""
  return tuple(t for t in task_names if not t.startswith(("quadratic", "rosenbrock")))


COVERED = with_neural_graph(META_TEST)


def get_config():
  config = suite_pretrained_untuned.get_config()
  config.name = "suite_nino"
  config.outdir = "runs/suite_nino"
  config.tasks = COVERED
  config.optimizers = ("adamw",)
  config.untuned = ("adam",)
  config.learned = ("pretrained:nino_zoo_v2", "pretrained:nino_zoo_v2_guided")
  config.learned_tuned = ()
  config.defaults_column = False
  config.reference = "adam@defaults"
  return config
