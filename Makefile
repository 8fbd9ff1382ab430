# make demo: set up .venv (first time) and train the quickstart DCGAN on the bundled digits.
# make test: set up .venv (first time) and run the whole test suite.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-cache-dir -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lit-gans fit --config configs/quickstart.yaml

test: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 tests --durations=15

bench: $(STAMP)  # every benchmark, one after the other (about an hour on 2 CPU cores)
	for script in ddp_overhead throughput metric_cost time_to_quality toy_quality stacked_digits; do \
		OMP_NUM_THREADS=1 $(BIN)/python bench/$$script.py || exit 1; done

clean:
	rm -rf $(VENV) runs
