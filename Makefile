# rave-to-chaos: trained (RAVE) and hand-written (chaos_models) neural instruments, side by side.
# `make help` lists the targets. Every variable below can be overridden: make train-voice BATCH=4 GPU=0
SHELL := /bin/bash
PY    := .venv/bin/python
RTC   := .venv/bin/rave-to-chaos
# The RAVE targets read their settings (ROOT, BATCH, ...: rave_pipeline/commands/options.py) from the make variables
# themselves, which make hands to the command's environment: no quoting by a shell in between.
RTC_MAKE := $(RTC) --from-make
# CPU runs with 2 OpenMP threads on a busy 2-core machine are 10-40x slower.
export OMP_NUM_THREADS ?= 1
# make expands `$` in the values given on its command line (ROOT='/a$5b' would reach a command as /ab):
# every variable given there is handed on, to the commands' environment and to sub-makes, exactly as typed.
$(foreach v,$(.VARIABLES),$(if $(filter command line,$(origin $(v))),$(eval override $(v) := $$(value $(v)))$(eval export $(v))))

.PHONY: help setup test test-fast demo demo-data export-chaos bench-chaos ranges

help:  ## list the targets and every setting
	@grep -hE '^[$$()a-zA-Z_%:= -]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^\$$\(RECIPES:%=([a-z-]+)-%\): [a-z-]+-%/\1-RECIPE/' | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'
	@echo; python3 -m spec.settings

setup:  ## install apt packages, .venv/ with the pinned stack, and this project (idempotent)
	@bash scripts/setup.sh

test:  ## run every test (slow ones included; ~minutes on 2 cores)
	.venv/bin/pytest

test-fast:  ## run the tests not marked slow
	.venv/bin/pytest -m "not slow"

demo-data:  ## build the demo datasets from Debian's recordings into datasets/*/raw
	$(PY) scripts/make_demo_data.py

demo:  ## the whole pipeline on the demo data, CPU only (tiny step counts); its output fits one screen
	@$(MAKE) -s --no-print-directory demo-data export-chaos
	@$(MAKE) -s --no-print-directory train-noise export-noise $(DEMO_VARS) RAW=$(CURDIR)/datasets/noise/raw N_SIGNAL=65536 MAX_STEPS=20 VAL_EVERY=10 SAVE_EVERY=5
	@$(MAKE) -s --no-print-directory train-voice export-voice $(DEMO_VARS) RAW=$(CURDIR)/datasets/voice/raw MAX_STEPS=10 VAL_EVERY=5
	@echo "load these in nn~ / nn.ar: $$(cd exports && ls *.ts | tr '\n' ' ')"

export-chaos:  ## the essay's instruments + streaming, morphing, live (seed as an attribute) and hybrid ones -> exports/
	$(RTC_MAKE) export-chaos

ranges:  ## which operators / w_mult stay musically usable, measured (prints a table)
	$(RTC) ranges

bench-chaos:  ## real-time factors of the chaos instruments vs the essay's classes (prints, never asserts)
	$(RTC) bench-chaos

# ---- RAVE pipeline: make train-voice BATCH=4 GPU=0 MAX_STEPS=... (see configs/*.toml) ----------
RECIPES    := $(basename $(notdir $(wildcard configs/*.toml)))

.PHONY: $(foreach r,$(RECIPES),preprocess-$(r) train-$(r) export-$(r) timeline-$(r)) export-all export-neutone

$(RECIPES:%=preprocess-%): preprocess-%:  ## preprocess-noise / preprocess-voice: raw recordings -> RAVE database (only if raw files changed)
	$(RTC_MAKE) preprocess $*

$(RECIPES:%=train-%): train-%: preprocess-%  ## train-noise / train-voice: train or resume (FRESH=1 archives the run and starts anew)
	$(RTC_MAKE) train $*

$(RECIPES:%=export-%): export-%:  ## export-noise / export-voice: newest checkpoint -> exports/<recipe>_<config>_streaming.ts (CKPT=<step|best|last|path>: that one, _step<N> in the name)
	$(RTC_MAKE) export $*

$(RECIPES:%=timeline-%): timeline-%:  ## timeline-noise / timeline-voice: every kept checkpoint exported, heard and measured -> <ROOT>/reports/timeline-<run>/ (EVERY=k, INPUTS='"my take.wav" b.flac')
	$(RTC_MAKE) timeline $*

export-all:  ## every trained and hand-written export into one folder, each also as a Neutone FX model (SKIP_NEUTONE=1: not); one line per recipe it could not export
	$(RTC_MAKE) export-all

export-neutone:  ## every export in EXPORTS as a Neutone FX model for a DAW -> <EXPORTS>/neutone/<name>/model.nm (+ profile.md)
	@$(IN_EXPORTS) $(RTC) export-neutone "$$e" --out "$$e/neutone"

# The demo keeps its databases and runs under demo/ so it never mixes with your own runs.
DEMO_VARS := ROOT=demo EXPORTS=$(CURDIR)/exports DEVICE=cpu

# ---- audition: the nn~-faithful host --------------------------------------------------------
# The folder the export targets write and these targets read: EXPORTS (relative to ROOT, or absolute),
# default <ROOT>/exports; reports go under ROOT. Read from the environment (as typed), never re-parsed by make.
IN_EXPORTS = e="$${EXPORTS:-exports}"; case "$$e" in /*) ;; *) e="$${ROOT:-.}/$$e";; esac; r="$${ROOT:-.}/reports";

.PHONY: tensorboard validate bench bench-guard bench-train bench-gpu bench-preprocess bench-loader real-hosts realtime mutants gpu-kit gpu-evidence
validate:  ## check every export in EXPORTS (default <ROOT>/exports) against the nn~ contract (exit 1 on failure)
	@$(IN_EXPORTS) $(RTC) validate "$$e"

bench:  ## RTF, latency, memory and worst-case block times (64-4096, 2000 blocks) of every export in EXPORTS, safe buffer per method -> <ROOT>/reports/bench.json
	@$(IN_EXPORTS) $(RTC) bench "$$e" --worst-case --json "$$r/bench.json"

bench-guard:  ## what the NaN guards cost: each trained export vs acids-rave's unguarded export of its run (ratio)
	@$(IN_EXPORTS) $(RTC) bench-guard "$$e"

bench-gpu:  ## per recipe on this GPU: s/step and data wait per phase, peak memory, batch table proposal -> reports/gpu.json; GPUS=N (or DEVICE=cpu PROCS=N): N against 1, scaling efficiency -> reports/scaling.json
	$(RTC) bench-gpu $(if $(DEVICE),--device $(DEVICE)) $(if $(CARD_GB),--card-gb $(CARD_GB)) $(if $(GPUS)$(PROCS),--procs $(or $(GPUS),$(PROCS)))

bench-preprocess:  ## make preprocess vs plain rave preprocess on tiny, short and mixed generated libraries: wall times, ms per file, ratio
	$(RTC) bench-preprocess

bench-loader:  ## RAVE's own DataLoader vs the project's (workers kept, same batches) over 3 epochs of a small database: batches/s and the ratio
	$(RTC) bench-loader

bench-train:  ## s/step of each recipe on this device (both phases) + RTF of each export at buffer 2048
	$(RTC) bench-train $(if $(DEVICE),--device $(DEVICE)) $(if $(ROOT),--root "$$ROOT")

gpu-kit:  ## for a GPU machine with its own torch and no registry: wheels for its Python 3.12, a static ffmpeg, the demo noise recordings as FLAC -> .gpu-kit/ (carry it)
	$(PY) scripts/gpu_kit.py

gpu-evidence:  ## a few GPU minutes -> a noise model through both RAVE phases, its timeline and the claims decided on it -> configs/measured/<card>-evidence/ (MINUTES=8, DRY=1, STAGE=train|measure; runs with python3 there)
	$(if $(wildcard .venv/bin/python),$(PY),python3) scripts/gpu_evidence.py --minutes $(or $(MINUTES),8) $(if $(DRY),--dry-run) $(if $(STAGE),--stage $(STAGE)) $(if $(DEVICE),--device $(DEVICE))

mutants:  ## the mutation gate: each mutation of tests/mutants.toml against its area's whole test modules, last catcher first -> docs/mutants.md (30 min on 2 cores; --only in scripts/mutants.py)
	$(PY) scripts/mutants.py

real-hosts:  ## audition vs the real nn~ (Pd) and nn.ar (scsynth), built from NN_TILDE_SRC= / NN_AR_SRC=<archive or folder> (cached)
	.venv/bin/pytest tests/test_real_hosts.py -v -rs

realtime:  ## every export's forward in the real nn.ar in real time (JACK's dummy driver), late periods and blocks counted -> <ROOT>/reports/realtime-<host>.json (every export in EXPORTS) (NN_AR_SRC=; HOST=nn~ with NN_TILDE_SRC=: Pd; DURATION=60, BUFFERS="64 256 2048")
	@$(IN_EXPORTS) $(RTC) realtime "$$e" --host $(or $(HOST),nn.ar) --seconds $(or $(DURATION),60) $(if $(BUFFERS),--buffers $(BUFFERS)) --json "$$r/realtime-$(or $(HOST),nn.ar).json"

tensorboard:  ## serve RAVE's training logs of every run of every recipe under ROOT (default: here; ROOT=demo for make demo's)
	@echo "TensorBoard: http://localhost:$(or $(PORT),6006)/  (logs: $${ROOT:-.}/runs; Ctrl-C stops it)"
	$(PY) -m tensorboard.main --logdir "$${ROOT:-.}/runs" --host localhost --port $(or $(PORT),6006)

# ---- comparison ------------------------------------------------------------------------------
.PHONY: compare
compare:  ## render every export in EXPORTS through one input set -> <ROOT>/reports/compare/index.html + metrics.json
	@$(IN_EXPORTS) $(RTC) compare "$$e" --out "$$r/compare"

# ---- GPU clusters (Slurm): one GPU per job; see scripts/slurm/*.sbatch and the README -------------
SBATCH      ?= sbatch
SBATCH_ARGS ?=
SUBMIT_OPTS = --sbatch "$$SBATCH" $(if $(SBATCH_ARGS),--sbatch-args "$$SBATCH_ARGS")
export SBATCH SBATCH_ARGS
.PHONY: $(RECIPES:%=cluster-train-%) $(RECIPES:%=cluster-timeline-%) cluster-export-all
$(RECIPES:%=cluster-train-%): cluster-train-%:  ## submit training + an export that runs after it (afterok); prints job ids
	@$(RTC_MAKE) cluster-train $* $(SUBMIT_OPTS)

$(RECIPES:%=cluster-timeline-%): cluster-timeline-%:  ## submit the timeline as a CPU job (now, beside training, or AFTER=job ids); prints its id
	@$(RTC_MAKE) cluster-timeline $* $(SUBMIT_OPTS) $(if $(AFTER),--after "$$AFTER")

cluster-export-all:  ## submit one job exporting every recipe and the chaos instruments (AFTER=job ids); prints its id
	@$(RTC_MAKE) cluster-export-all $(SUBMIT_OPTS) $(if $(AFTER),--after "$$AFTER")

# ---- host patches ------------------------------------------------------------------------------
.PHONY: pd-patch
pd-patch:  ## hosts/puredata/side_by_side.local.pd with absolute paths to this checkout's exports (TRAINED=, CHAOS=, BUFFER=N)
	$(PY) scripts/make_pd_patch.py $(if $(TRAINED),--trained $(TRAINED)) $(if $(CHAOS),--chaos $(CHAOS)) $(if $(BUFFER),--buffer $(BUFFER))
