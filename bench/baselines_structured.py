"""Benchmark: state bytes per parameter and update time of the Tier 2 and Tier 3 baselines.

    .venv/bin/python bench/baselines_structured.py [--layers 4] [--width 512] [--repeats 30]

The same measurement as `bench/baselines.py --tiers 2,3` (see there): about 1.05M parameters
in 4 matrices of 512 x 512 plus biases, each method's time relative to `optax.adam` measured in
the same run.
"""

import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
  sys.argv[1:1] = ["--tiers", "2,3", "--flag", "inf"]
  runpy.run_path(str(Path(__file__).with_name("baselines.py")), run_name="__main__")
