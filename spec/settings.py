"""Every setting the project reads, in one table: the make variables of the RAVE commands (BATCH=8 is also
the flag --batch 8) and the environment variables read by name. Nothing reads the process environment except
safeio/environment.py, and only the variables declared here (tests/test_spec_layer.py checks both).

    python3 -m spec.settings      # the table, as `make help` and `rave-to-chaos help` print it
"""

import dataclasses

DATA, TRAIN = "data", "train"  # data: every RAVE command (preprocess, export); train: training only
EXPORT, TIMELINE = "export", "timeline"  # one checkpoint's export; the timeline of a run
EXPORT_ALL = "export-all"  # every export of the project at once
ENVIRONMENT = "environment"  # read from the environment by name, not a command-line flag
COUNT_MAX = 2**31 - 1  # what RAVE's and Lightning's integer settings hold


@dataclasses.dataclass(frozen=True)
class Setting:
    var: str  # the make / environment variable
    # "count" (whole number >= minimum), "number", "text", "path", "list" (repeatable; make: one per word),
    # "paths" (repeatable file names; make: words split as a shell would, so "my take.wav" is one), "switch"
    kind: str
    scope: str
    help: str
    default: str = ""  # what an unset variable means ("" where the help says it)
    minimum: int = 1
    rave: str | None = None  # rave train's flag for the value, when it is passed on as it is

    @property
    def repeatable(self) -> bool:
        return self.kind in ("list", "paths")

    @property
    def dest(self) -> str:
        return self.var.lower()

    @property
    def flag(self) -> str:
        return "--" + self.var.lower().replace("_", "-")


OPTIONS = [
    Setting("ROOT", "path", DATA, "folder holding datasets/, runs/, exports/", "the checkout"),
    Setting("TAG", "text", DATA, "train/export a variant with its own run (e.g. batch8 in a sweep)"),
    Setting("RAW", "text", DATA, "raw recordings folder (relative to ROOT, or absolute)", "the recipe's raw"),
    Setting("EXPORTS", "text", DATA, "exports folder (relative to ROOT, or absolute)", "exports"),
    Setting(
        "N_SIGNAL",
        "count",
        DATA,
        "samples per training example (the database holds chunks of twice this)",
        "the recipe's",
        rave="--n_signal",
    ),
    Setting(
        "AUGMENT", "text", DATA, "comma-separated RAVE augmentations (mute,compress,gain), or none", "the recipe's"
    ),
    Setting("BATCH", "count", TRAIN, "examples per step", "the recipe's table for this GPU", rave="--batch"),
    Setting("GPU", "text", TRAIN, "GPU index, or indices for data-parallel training (0,1,2,3)", "0"),
    Setting("DEVICE", "text", TRAIN, "auto, cuda or cpu", "auto"),
    Setting("GPUS", "count", TRAIN, "GPUs per node training one model together (data-parallel)", "1"),
    Setting("NODES", "count", TRAIN, "nodes training one model together (under Slurm)", "1"),
    Setting("PROCS", "count", TRAIN, "DEVICE=cpu: processes training one model together (data-parallel)", "1"),
    Setting("MAX_STEPS", "count", TRAIN, "train up to this global step", "the recipe's", rave="--max_steps"),
    Setting("VAL_EVERY", "count", TRAIN, "validate every N steps", "the recipe's", rave="--val_every"),
    Setting(
        "SAVE_EVERY",
        "count",
        TRAIN,
        "keep a checkpoint every N steps, for CKPT= exports and the timeline",
        "the recipe's",
    ),
    Setting(
        "WORKERS",
        "count",
        TRAIN,
        "data loader processes (0: load in the trainer)",
        "the recipe's",
        minimum=0,
        rave="--workers",
    ),
    Setting("OVERRIDE", "list", TRAIN, "extra gin binding, repeatable (make: one per word)", rave="--override"),
    Setting("FRESH", "switch", TRAIN, "archive the existing run and start a new one"),
    Setting(
        "CKPT", "text", EXPORT, "the checkpoint to export: a step (e.g. 120000), best, last or a .ckpt path", "last"
    ),
    Setting(
        "SKIP_NEUTONE",
        "switch",
        EXPORT_ALL,
        "export-all: leave out the Neutone FX models (make export-neutone makes them)",
    ),
    Setting("EVERY", "count", TIMELINE, "timeline: every k-th kept checkpoint (the newest always)", "1"),
    Setting(
        "INPUTS",
        "paths",
        TIMELINE,
        "timeline: your audio files, rendered beside compare's input set (make: quote a name with spaces, "
        "INPUTS='\"my take.wav\" other.flac')",
    ),
]

ENVIRONMENT_VARIABLES = [
    Setting("OMP_NUM_THREADS", "count", ENVIRONMENT, "threads a model runs on in audition's host and benchmarks", "1"),
    Setting(
        "RAVE_PIPELINE_CONFIGS",
        "path",
        ENVIRONMENT,
        "the folder of recipe files for an installed copy",
        "configs/ of the checkout",
    ),
    Setting(
        "RAVE_PIPELINE_SAVE_EVERY",
        "count",
        ENVIRONMENT,
        "inside rave train: keep a timeline checkpoint every N steps (train sets it from SAVE_EVERY)",
        "0: none",
        minimum=0,
    ),
    Setting(
        "RAVE_PIPELINE_LOADER",
        "text",
        ENVIRONMENT,
        "inside rave train: plain keeps RAVE's own DataLoader instead of the project's",
        "the project's",
    ),
    Setting("RAVE_PIPELINE_NAN_GUARD", "switch", ENVIRONMENT, "inside rave export: 0 exports without NaN guards", "1"),
    Setting(
        "RAVE_PIPELINE_PROGRESS_S", "number", ENVIRONMENT, "a progress line at least this often while training", "30"
    ),
    Setting(
        "RAVE_PIPELINE_WARMUP_STEPS",
        "count",
        ENVIRONMENT,
        "first steps left out of s/step (start-up cost)",
        "3",
        minimum=0,
    ),
    Setting(
        "RAVE_PIPELINE_GPU_MEMORY_GB",
        "number",
        ENVIRONMENT,
        "cap the GPU memory training may use, to measure a smaller card on a large one",
        "no cap",
    ),
    Setting(
        "RAVE_PIPELINE_PROCS",
        "count",
        ENVIRONMENT,
        "inside rave train: data-parallel processes per node (train sets it from GPUS or PROCS)",
        "unset: one process, RAVE's own loader order",
    ),
    Setting("RAVE_PIPELINE_NODES", "count", ENVIRONMENT, "inside rave train: nodes of a data-parallel run", "1"),
    Setting(
        "RAVE_PIPELINE_COLLECTIVE_TIMEOUT_S",
        "number",
        ENVIRONMENT,
        "data-parallel training: a rank waiting longer than this for the others stops (a lost rank)",
        "45",
    ),
    Setting(
        "STAGE_DIR",
        "path",
        ENVIRONMENT,
        "a fast local folder the database is copied to before training",
        "SLURM_TMPDIR, else none",
    ),
    Setting("SLURM_TMPDIR", "path", ENVIRONMENT, "set by Slurm: the job's local scratch folder", "none"),
    Setting(
        "SLURM_JOB_ID", "count", ENVIRONMENT, "set by Slurm: data-parallel training starts its ranks with srun", "none"
    ),
    Setting(
        "SLURM_JOB_NUM_NODES", "count", ENVIRONMENT, "set by Slurm: the nodes the job holds (NODES at most)", "none"
    ),
    Setting(
        "SLURM_CPUS_PER_TASK", "count", ENVIRONMENT, "set by Slurm: CPUs for each task (passed on to srun)", "none"
    ),
    Setting("SLURM_PROCID", "count", ENVIRONMENT, "set by srun: a task's rank", "none", minimum=0),
    Setting("LOCAL_RANK", "count", ENVIRONMENT, "set by Lightning: a rank it started on this node", "0", minimum=0),
    Setting(
        "BENCH_GPU_LOGS", "path", ENVIRONMENT, "bench-gpu keeps each run's log in this folder", "a temporary folder"
    ),
    Setting(
        "RAVE_TO_CHAOS_CACHE",
        "path",
        ENVIRONMENT,
        "the cache of built real hosts and downloads",
        "~/.cache/rave-to-chaos",
    ),
    Setting(
        "NN_TILDE_SRC",
        "path",
        ENVIRONMENT,
        "nn~'s sources (archive or folder) for the real-host runs",
        "none: those runs skip",
    ),
    Setting(
        "NN_AR_SRC",
        "path",
        ENVIRONMENT,
        "nn.ar's sources (archive or folder) for the real-host runs",
        "none: those runs skip",
    ),
    Setting(
        "RAVE_TO_CHAOS_TORCH_SEED",
        "count",
        ENVIRONMENT,
        "set for a real host by the tests: the seed the preloaded shim gives libtorch",
        "unseeded",
        minimum=0,
    ),
    Setting(
        "REQUIRE_REAL_HOSTS",
        "switch",
        ENVIRONMENT,
        "tests: 1 makes a real-host test that cannot run fail",
        "0: it skips",
    ),
]

SETTINGS = {s.var: s for s in OPTIONS + ENVIRONMENT_VARIABLES}


def table() -> str:
    """The settings as `make help` prints them: variable, where it applies, default, meaning."""
    lines = ["settings (make VAR=value, or the environment):"]
    for s in OPTIONS + ENVIRONMENT_VARIABLES:
        default = f" [default: {s.default}]" if s.default else ""
        lines.append(f"  {s.var:<28} {s.scope:<11} {s.help}{default}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
