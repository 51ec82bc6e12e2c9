"""Runnable benchmarks that print tables (ratios against a reference measured in the same run).

Run each from the repository root as a module, e.g. `.venv/bin/python -m bench.lopt_step`:

  baseline_updates      update time and state bytes of registered baselines vs optax.adam
  baselines_structured  the same for the Tier 2 and 3 baselines
  zeroth_order          MeZO and the ZO optimizers vs Adam
  ghost_clipping        ghost clipping's peak memory and time vs materialized per-example grads
  kaisa                 KAISA's bits sent and inverse memory per worker, per grad-worker fraction
  tpsgd                 tpSGD's test-accuracy gap to backprop SGD on digits MLPs
  gradnormlorp_memory   GradNormLoRP's trainable / state / stored bytes per parameter vs AdamW
  lopt_step             one learned-optimizer step per architecture vs Adam
  meta_step             estimators vs the bare unroll
  nowcast               NiNo's nowcast wrapper vs its base optimizer
  task_steps            inner training steps per second of every zoo task
  sweep                 a vmapped learning-rate sweep vs one run at a time
"""
