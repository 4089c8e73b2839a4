"""Measure `rave train` as it runs: seconds per step and data wait in each RAVE phase, peak memory,
ETA to max_steps. Added to RAVE's Trainer by rave_cli beside CheckpointOnExit.

A step is timed from one `on_train_batch_start` to the next, so it includes waiting for the
dataloader; "data wait" is the part of it spent outside the training step (fetching the next batch
plus Lightning's loop, which is ~1 ms). On CUDA the end of each step synchronises, so the time is
the GPU's, not the launch queue's. RAVE's phase is read from the model (`warmed_up` turns True when
PHASE_1_DURATION steps are done: the adversarial phase). Peak memory is reset when phase 2 begins,
so each phase reports its own peak.

Every validation, every PROGRESS_S seconds of training (30; RAVE_PIPELINE_PROGRESS_S) whatever the
validation interval, and the end of training print one line and write `progress.json` into the run's
version folder (what `make bench-gpu` reads, and what a user sizes `--time` from).
"""

import collections
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

from safeio.environment import env

WINDOW = 200  # steps kept per phase for the rolling rate (an ETA follows the recent rate)
# First steps of each phase left out of the rate (cudnn autotuning, allocator growth); bench-gpu sets it.
SKIP = int(env("RAVE_PIPELINE_WARMUP_STEPS") or 3)
PROGRESS_S = float(env("RAVE_PIPELINE_PROGRESS_S") or 30)  # a line at least this often, with the ETA


def duration(seconds: float) -> str:
    seconds = int(seconds)
    d, h, m = seconds // 86400, seconds % 86400 // 3600, seconds % 3600 // 60
    return f"{d} d {h:02d} h" if d else f"{h} h {m:02d} min" if h else f"{m} min {seconds % 60:02d} s"


class PhaseStats:
    def __init__(self):
        self.steps = 0
        self.cycle = collections.deque(maxlen=WINDOW)  # s per step, start to next start
        self.wait = collections.deque(maxlen=WINDOW)  # s of it outside the training step
        self.peak_allocated = self.peak_reserved = 0

    def summary(self) -> dict:
        timed = list(self.cycle)
        out = {"steps": self.steps, "timed_steps": len(timed)}
        if timed:
            out |= {
                "s_per_step_median": statistics.median(timed),
                "s_per_step_mean": statistics.fmean(timed),
                "data_wait_fraction": sum(self.wait) / sum(timed),
            }
        if self.peak_reserved:
            out |= {"peak_allocated_gb": self.peak_allocated / 1e9, "peak_reserved_gb": self.peak_reserved / 1e9}
        return out


class StepMeter(pl.Callback):
    def __init__(self):
        self.phases = {1: PhaseStats(), 2: PhaseStats()}
        self.start = self.end = None
        self.phase = 1
        self.cuda = False
        self.shown_at = time.monotonic()

    def setup(self, trainer, pl_module, stage):
        # bench-gpu's --card-gb: behave like a smaller card (torch's allocator refuses beyond it)
        cap = env("RAVE_PIPELINE_GPU_MEMORY_GB")
        device = trainer.strategy.root_device
        if cap and device.type == "cuda":
            total = torch.cuda.get_device_properties(device).total_memory
            torch.cuda.set_per_process_memory_fraction(min(float(cap) * 1e9 / total, 1.0), device)

    # -- timing ---------------------------------------------------------------------------------
    def on_train_start(self, trainer, pl_module):
        self.folder = Path(trainer.log_dir or trainer.default_root_dir)  # on every rank: log_dir is a collective
        self.cuda = pl_module.device.type == "cuda"
        self.phase = 2 if getattr(pl_module, "warmed_up", False) else 1

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        now = time.perf_counter()
        phase = 2 if getattr(pl_module, "warmed_up", False) else 1
        if self.start is not None and self.end is not None:  # the previous step, in the phase it ran in
            stats = self.phases[self.phase]
            if stats.steps > SKIP:
                stats.cycle.append(now - self.start)
                stats.wait.append(now - self.end)
        if phase != self.phase:
            self._read_memory()
            if self.cuda:
                torch.cuda.reset_peak_memory_stats(pl_module.device)
            self.phase = phase
        self.start, self.end = now, None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.cuda:
            torch.cuda.synchronize(pl_module.device)
        self.end = time.perf_counter()
        self.phases[self.phase].steps += 1
        if time.monotonic() - self.shown_at >= PROGRESS_S:  # quiet between validations no longer than this
            self.show(trainer, pl_module)

    def _read_memory(self):
        stats = self.phases[self.phase]
        if self.cuda:
            stats.peak_allocated = max(stats.peak_allocated, torch.cuda.max_memory_allocated())
            stats.peak_reserved = max(stats.peak_reserved, torch.cuda.max_memory_reserved())

    # -- reporting ------------------------------------------------------------------------------
    def report(self, trainer, pl_module, final: bool = False) -> dict:
        self._read_memory()
        step, total = trainer.global_step, trainer.max_steps
        rate = self.phases[self.phase].summary().get("s_per_step_mean")
        eta = rate * max(total - step, 0) if rate and total and total > 0 else None
        record = {
            "step": step,
            "max_steps": total,
            "phase": self.phase,
            "phase_1_duration": getattr(pl_module, "warmup", None),
            "device": torch.cuda.get_device_name(pl_module.device) if self.cuda else "cpu",
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
            "phases": {str(k): v.summary() for k, v in self.phases.items()},
            "eta_s": eta,
            "final": final,
            "time": time.time(),
        }
        if self.cuda:
            record["gpu_total_gb"] = torch.cuda.get_device_properties(pl_module.device).total_memory / 1e9
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / ".progress.json.partial"
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, self.folder / "progress.json")
        return record

    def line(self, record: dict, trainer) -> str:
        parts = [f"step {record['step']}/{record['max_steps']}", f"phase {record['phase']}"]
        s = record["phases"][str(record["phase"])]
        if "s_per_step_mean" in s:
            parts.append(f"{s['s_per_step_mean']:.3f} s/step (data wait {100 * s['data_wait_fraction']:.0f} %)")
        if record["eta_s"] is not None:
            parts.append(f"ETA {duration(record['eta_s'])} at this rate")
        if "peak_reserved_gb" in s:
            parts.append(f"GPU peak {s['peak_reserved_gb']:.1f} GB")
        val = trainer.callback_metrics.get("validation")
        if val is not None:
            parts.append(f"validation {float(val):.4g}")
        return " · ".join(parts)

    def show(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:  # one line and one progress.json per run
            return
        print(self.line(self.report(trainer, pl_module), trainer), flush=True)
        self.shown_step, self.shown_at = trainer.global_step, time.monotonic()

    def on_validation_end(self, trainer, pl_module):
        if trainer.sanity_checking or not trainer.global_step:
            return
        self.show(trainer, pl_module)

    def on_train_end(self, trainer, pl_module):
        stats = self.phases[self.phase]
        if self.start is not None and self.end is not None and stats.steps > SKIP:  # the last step: no next start
            stats.cycle.append(self.end - self.start)
            stats.wait.append(0.0)
        if not trainer.is_global_zero:
            return
        record = self.report(trainer, pl_module, final=True)
        if getattr(self, "shown_step", None) != trainer.global_step:  # not already said at the last validation
            print(self.line(record, trainer), file=sys.stdout, flush=True)
