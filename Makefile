# Kefu: `make run` to talk to it, `make test` to check it. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
INSTALLED := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

.PHONY: install lint lookup train validate db seed simulate-orders simulate-shoppers agent demo-agents browser nginx analytics-ingest report run run-prod shell test test-unit test-stories bench-nlu bench-perf bench-load bench-faults clean

$(INSTALLED): requirements.lock requirements-rasa.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --ignore-requires-python -r requirements-rasa.lock
	touch $@

## the dashboard's charting library (Apache ECharts from the npm registry, served by the desk itself);
## without npm the dashboard draws its charts by hand as before
DESK_JS := kefu/desk/node_modules/.package-lock.json
$(DESK_JS): kefu/desk/package.json kefu/desk/package-lock.json
	@if command -v npm >/dev/null; then cd kefu/desk && npm ci --no-audit --no-fund --silent; \
	else echo "npm not found: the dashboard draws its charts without ECharts"; fi

install: $(INSTALLED) $(DESK_JS)

## regenerate the NLU files derived from the catalogue and the entity patterns
lookup: install
	$(PY) -m kefu.nlu.lookup

## train a model unless the one in models/ is newer than the data, the config and
## the NLU code; Rasa's own cache then retrains only the parts that changed
MODEL := models/kefu.tar.gz
TRAINING_INPUTS := config.yml domain.yml $(shell find data kefu/nlu kefu/dialogue/policies.py -type f -not -name '*.pyc' 2>/dev/null)

train: lookup $(MODEL)

## Rasa's check of the data runs beside the training, on the other core, instead
## of before it; the model is kept only if both pass (kefu/ops/train.py)
$(MODEL): $(TRAINING_INPUTS) | $(INSTALLED)
	$(PY) -m kefu.ops.train --out models --name kefu

validate: lookup
	$(PY) -m kefu.nlu.validate

## create, migrate and seed the shop database (embedded SQLite unless DATABASE_URL is set)
db: install
	$(PY) -m kefu.store.seed

seed: install
	$(PY) -m kefu.store.seed --reset

## the demo shop tells the running assistant about its orders (signed webhook, docs/notifications.md)
simulate-orders: db
	$(PY) -m kefu.notify.simulate

## scripted shoppers talk to the running assistant over REST (order lookups, returns, a VIP, 12315, abuse),
## then the analytics fold their events: the desk and the dashboard have something to show
simulate-shoppers: db
	$(PY) -m kefu.analytics.simulate

## add an agent to the agent desk: make agent AGENT=li NAME=小李 (asks for a password)
agent: db
	$(PY) -m kefu.desk.agents add $(AGENT) --name "$(or $(NAME),$(AGENT))"

## the demo shop's team with skill groups and shifts (kefu/desk/demo_team.yml; asks for one password)
demo-agents: db
	$(PY) -m kefu.desk.agents demo

## service analytics: fold the tracker store's new events into the shop DB
analytics-ingest: db
	$(PY) -m kefu.analytics ingest

## HTML report with PNG charts under reports/analytics/ (FROM=YYYY-MM-DD TO=YYYY-MM-DD; default the last 30 days)
report: db
	$(PY) -m kefu.analytics report $(if $(FROM),--from $(FROM)) $(if $(TO),--to $(TO))

run: train db
	$(PY) -m kefu.ops.embedded

## production profile (docs/production.md): Redis, PostgreSQL, RabbitMQ, N Rasa
## instances and M action servers behind nginx, under Kefu's supervisor (kefu/ops/supervisor.py)
run-prod: train nginx
	KEFU_PROFILE=production $(PY) -m kefu.ops.production run

## chat in the terminal (the action server wants Rasa's shared secret, as always)
shell: train db
	@export KEFU_ACTION_TOKEN=$$($(PY) -c "from kefu.core.secrets import secret; print(secret('action_token'))"); \
	  $(PY) -m kefu.ops.action_server --port 5055 > var/actions-shell.log 2>&1 & \
	  pid=$$!; trap "kill $$pid" EXIT; sleep 8; \
	  $(RASA) shell --model models/kefu.tar.gz --endpoints endpoints.yml

## Debian's chromium for the browser tests (needs root; otherwise they skip, except under CI)
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; } || echo "chromium not installed: browser tests will be skipped"; }

## Debian's nginx, the production profile's balancer (needs root; otherwise its tests skip, except under CI)
nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { [ "$$(id -u)" = 0 ] && { DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null 2>&1 || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null; }; } || echo "nginx not installed: the production cluster tests will be skipped"; }

## static checks: ruff (lint, import order) and mypy (pyproject.toml)
lint: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m mypy

test: lint validate train browser nginx
	$(PY) -m kefu.nlu.lookup --check
	$(PY) -m bench.nlu.floor models/kefu.tar.gz
	$(PY) -m pytest -q tests
	$(RASA) test core --model models/kefu.tar.gz --stories tests/stories --out reports/stories --fail-on-prediction-errors

## NLU benchmark: config.yml on the held-out test set and in 5-fold cross-validation
## (reports/nlu/); RELEASE_MODEL=path scores an older model beside it;
## `python -m bench.nlu` compares every candidate of bench/nlu/configs (long).
bench-nlu: lookup
	$(PY) -m bench.nlu --folds 5 --only kefu $(if $(RELEASE_MODEL),--model release=$(RELEASE_MODEL))

## reply cost side by side: Kefu, Rasa's default config on Kefu's data and the
## `rasa init` bot (open-loop load, long conversation, burst), then a py-spy
## profile of Kefu under load, the embedded tracker store alone, then make train
## timed full and after a data-only change (reports/perf/)
bench-perf: train db
	$(PY) -m bench.perf
	$(PY) -m bench.perf.profile
	$(PY) -m bench.perf.stores
	$(PY) -m bench.perf.training

## load and fault benchmarks of the production profile (reports/load, reports/faults)
bench-load: train nginx
	$(PY) -m bench.load.run

bench-faults: train nginx
	$(PY) -m bench.load.faults

clean:
	rm -rf models/*.tar.gz reports/stories var/*.db
