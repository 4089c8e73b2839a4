# rave-to-chaos: trained (RAVE) and hand-written (chaos_models) neural instruments, side by side.
# `make help` lists the targets. Every variable below can be overridden: make train-voice BATCH=4 GPU=0
SHELL := /bin/bash
PY    := .venv/bin/python
# CPU runs with 2 OpenMP threads on a busy 2-core machine are 10-40x slower (NOTES.md).
export OMP_NUM_THREADS ?= 1

.PHONY: help setup test test-fast demo demo-data export-chaos bench-chaos clean-demo

help:  ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

setup:  ## install apt packages, .venv/ with the pinned stack, and this project (idempotent)
	@bash scripts/setup.sh

test:  ## run every test (slow ones included; ~minutes on 2 cores)
	.venv/bin/pytest

test-fast:  ## run the tests not marked slow
	.venv/bin/pytest -m "not slow"

demo-data:  ## build the demo datasets from Debian's recordings into datasets/*/raw
	$(PY) scripts/make_demo_data.py

demo: demo-data export-chaos  ## the whole pipeline on the demo data, CPU only
	@echo "exports:" && ls -1 exports/*.ts

export-chaos:  ## export the essay's hand-written instruments into exports/
	$(PY) -m chaos_models export-essay --out-dir exports

bench-chaos:  ## real-time factors of the chaos instruments vs the essay's classes (prints, never asserts)
	$(PY) -m chaos_models bench
