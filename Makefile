# Sportello: the two commands of the README are `make run` and `make test`.
# Everything else here is a step those two take, or a convenience for developers.
SHELL := /bin/bash
VENV := .venv/bin
RASA := .venv-rasa/bin/rasa
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# No usage reports to Rasa's servers from `make train`/`make rasa-test` (see rasa_env()).
export RASA_TELEMETRY_ENABLED := false

.PHONY: run test setup setup-test train lint bench bench-quick bench-speed bench-speed-quick bench-soak bench-soak-quick rasa-test clean-data

## make run: set up, load the demo knowledge base (and, on a fresh install, simulated
## conversations for the insights page), bring the search index up to date (after an
## upgrade that changed its format, say), train if stale, start everything
run: setup
	$(VENV)/sportello kb seed-demo
	$(VENV)/sportello kb index
	$(VENV)/sportello insights demo-data || echo "real conversations present: no simulated data added"
	$(VENV)/sportello run

## make test: set up (with Chromium for browser tests) and run the whole test suite
test: setup-test
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	SPORTELLO_REQUIRE_BROWSER=1 SPORTELLO_REQUIRE_RASA=1 SPORTELLO_REQUIRE_SCALE_OUT=1 SPORTELLO_REQUIRE_IMAP=1 SPORTELLO_REQUIRE_PROXY=1 $(VENV)/python -m pytest

setup:
	bash scripts/setup.sh

setup-test:
	bash scripts/setup.sh --browser

train: setup
	$(RASA) train --config config.yml --domain bot/domain.yml --data bot/data --out models

rasa-test: train
	$(RASA) test --stories bot/tests/test_stories.yml --nlu bot/tests/nlu_holdout.yml --out results --fail-on-prediction-errors

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

## make bench: answer quality on ../shared/eval, the demo and our FAQ-shaped sets (search
## alone, fitting the shipped calibration's figures), then the FAQ-shaped sets through the
## whole bot (a REST conversation per question on the real stack), then the same before
## and after a simulated week of customers teaching it their words -> BENCHMARKS.md
bench: setup
	$(VENV)/python -m bench.quality
	$(VENV)/python -m bench.faq_bot
	$(VENV)/python -m bench.learning

bench-quick: setup
	$(VENV)/python -m bench.quality --quick
	$(VENV)/python -m bench.faq_bot --quick
	$(VENV)/python -m bench.learning --quick

## make bench-speed: turn latency/throughput beside a stock rasa init bot, cold start, article freshness, vector search at 1M -> BENCHMARKS.md (~15-19 min)
bench-speed: setup
	$(VENV)/python -m bench.speed

bench-speed-quick: setup
	$(VENV)/python -m bench.speed --quick

## make bench-soak: 50 customers for 10 minutes, then every message, ticket and rating accounted for
bench-soak: setup
	$(VENV)/python -m bench.soak

bench-soak-quick: setup
	$(VENV)/python -m bench.soak --quick

## make bench-hardening: fuzz the REST channel and every console form (1,000 examples each,
## random seed recorded), kill -9 the services 5 times: 0 server errors, nothing lost (~15-20 min)
.PHONY: bench-hardening bench-hardening-quick
bench-hardening: setup
	$(VENV)/python -m bench.hardening

bench-hardening-quick: setup
	$(VENV)/python -m bench.hardening --quick

## make bench-scaleout: one Rasa server vs two sharing PostgreSQL + Redis (~17 min)
.PHONY: bench-scaleout bench-scaleout-quick
bench-scaleout: setup-test
	$(VENV)/python -m bench.scaleout

bench-scaleout-quick: setup-test
	$(VENV)/python -m bench.scaleout --quick
