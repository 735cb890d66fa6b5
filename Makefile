# The two commands of the README: `make demo` (local end-to-end run) and `make test` (everything that gates a change).
# Both set up what they need on a fresh machine: .venv for the app and tests, .venv-sam for SAM CLI (it pins boto3),
# .venv-labelstudio for the real Label Studio server of local mode (it pins Django; `demo --workforce labelstudio`
# installs it on first use too).

PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
LS_VENV := .venv-labelstudio
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
# A failed install stops make; pip's warnings about this machine's own index settings are harmless.
PIP_QUIET := --quiet --disable-pip-version-check

.PHONY: demo test setup lint typecheck unit validate build benchmark clean

demo: $(VENV)/.installed
	$(VENV)/bin/groundcrew demo

test: setup lint typecheck unit validate build

setup: $(VENV)/.installed $(SAM_VENV)/.installed $(LS_VENV)/.installed

$(VENV)/.installed: requirements/dev.txt layers/groundcrew/requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_QUIET) -r requirements/dev.txt
	$(VENV)/bin/pip install $(PIP_QUIET) --no-deps -e .
	$(VENV)/bin/python -c "import groundcrew, groundcrew_local, moto, liquid"
	touch $@

$(SAM_VENV)/.installed: requirements/sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install $(PIP_QUIET) -r requirements/sam.txt
	$(SAM_VENV)/bin/sam --version
	touch $@

$(LS_VENV)/.installed: requirements/labelstudio.txt $(VENV)/.installed
	$(VENV)/bin/python -m groundcrew_local.labelstudio.server install

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy layers/groundcrew/groundcrew local/groundcrew_local functions

unit: $(VENV)/.installed $(LS_VENV)/.installed
	$(VENV)/bin/python -m pytest

validate: $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/sam validate --lint
	npx --yes asl-validator@4.0.0 --json-path statemachine/labeling_pipeline.asl.json

build: $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/sam build

benchmark: $(VENV)/.installed $(LS_VENV)/.installed
	$(VENV)/bin/python benchmarks/manifest_building.py
	$(VENV)/bin/python benchmarks/handler_import_time.py
	$(VENV)/bin/python benchmarks/dawid_skene.py
	$(VENV)/bin/python benchmarks/mask_rasterising.py
	$(VENV)/bin/python benchmarks/import_scale.py 2000
	$(VENV)/bin/python benchmarks/point_cloud_conversion.py
	$(VENV)/bin/python benchmarks/point_cloud_sequence_memory.py
	$(VENV)/bin/python benchmarks/labelstudio_throughput.py

clean:
	rm -rf .aws-sam runs .pytest_cache .mypy_cache .ruff_cache
