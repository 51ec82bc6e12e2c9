"""Benchmark: state bytes per parameter and update time of the Tier 2 and Tier 3 baselines.

    .venv/bin/python -m bench.baselines_structured [--layers 4] [--width 512] [--repeats 30]

The same measurement as `bench.baseline_updates --tiers 2,3` (see there): about 1.05M parameters
in 4 matrices of 512 x 512 plus biases, each method's time relative to `optax.adam` measured in
the same run. It also times ghost clipping (T6-18), tpSGD (T4-15) and KAISA (T3-05, as one
worker; its per-fraction communication: `bench.kaisa`); their own measurements are
`bench.ghost_clipping` and `bench.tpsgd`.
"""

import sys

from bench import baseline_updates

if __name__ == "__main__":
  extra = "ghost_clipping,tpsgd,kaisa"  # issue 20's methods outside tiers 2-3 or with workers
  baseline_updates.main(["--tiers", "2,3", "--flag", "inf", "--extra", extra, *sys.argv[1:]])
