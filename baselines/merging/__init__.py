"""Weight averaging and model merging: procedures on parameter pytrees, not optimizer steps.

Task arithmetic, AdaMerging, LCSC, AdaMMS and uniform averaging (`_merging.py`); `entries.py`
registers them as not-applicable entries whose reasons name these functions. Not re-exported
by `baselines`: call them as `baselines.merging.<name>`.
"""

from baselines.merging import entries as entries
from baselines.merging._merging import (
  adamerging,
  adamms_merge,
  adamms_select,
  interpolate,
  lcsc_search,
  linear_combination,
  merge_task_vectors,
  prediction_entropy,
  task_arithmetic,
  task_vectors,
  uniform_average,
)

__all__ = [
  "adamerging",
  "adamms_merge",
  "adamms_select",
  "interpolate",
  "lcsc_search",
  "linear_combination",
  "merge_task_vectors",
  "prediction_entropy",
  "task_arithmetic",
  "task_vectors",
  "uniform_average",
]
