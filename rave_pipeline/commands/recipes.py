"""Recipes: one small TOML per dataset under configs/, every field overridable."""

import dataclasses
import tomllib
from pathlib import Path

from rave_pipeline.commands.options import check_count
from safeio import UserError
from safeio.environment import env
from spec.names import trained as trained_export_name
from spec.rave import CONFIGS as RAVE_CONFIGS
from spec.rave import PCA_COMPONENTS

# A checkout holds configs/ beside the packages and keeps datasets/, runs/ and exports/ there. An
# installed copy (pip install .) works in the current folder and reads the recipes from the folder
# RAVE_PIPELINE_CONFIGS names (a checkout's configs/, or your own).
HERE = Path(__file__).resolve().parents[2]
REPO = HERE if (HERE / "configs").is_dir() else Path.cwd()
CONFIGS = Path(env("RAVE_PIPELINE_CONFIGS") or REPO / "configs")


@dataclasses.dataclass
class Recipe:
    name: str
    config: str
    gin: str | None
    augment: list[str]
    raw: str
    sampling_rate: int
    channels: int
    n_signal: int
    max_steps: int
    val_every: int
    save_every: int
    workers: int
    cpu_batch: int
    batch_by_gpu_gb: dict[int, int]
    join_short: bool = True  # join what is shorter than a chunk (short files, tails) instead of dropping it
    exports: str = "exports"  # relative to root, or absolute
    tag: str = ""  # a variant of the recipe (e.g. a batch-size sweep): own run and export
    root: Path = REPO

    # Where everything of this recipe lives, relative to `root` (the repo, or a test's tmp dir).
    @property
    def raw_dir(self) -> Path:
        return self.root / self.raw

    @property
    def clean_dir(self) -> Path:
        return self.root / "datasets" / self.name / "clean"

    @property
    def db_dir(self) -> Path:
        return self.root / "datasets" / self.name / "db"

    @property
    def run_name(self) -> str:
        return f"{self.name}-{self.tag}" if self.tag else self.name

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs" / self.run_name

    @property
    def export_path(self) -> Path:
        return exports_dir(self.root, self.exports) / trained_export_name(self.run_name, self.config)

    @property
    def gin_path(self) -> Path | None:
        return CONFIGS / self.gin if self.gin else None

    @property
    def chunk(self) -> int:
        """Samples per database entry: rave preprocess cuts 2 x n_signal (docs/facts.md, "Chunks")."""
        return 2 * self.n_signal

    @property
    def chunk_seconds(self) -> float:
        return self.chunk / self.sampling_rate

    @property
    def facts(self):
        """spec.rave's facts of this recipe's config; None for a config spec does not know."""
        return RAVE_CONFIGS.get(self.config)

    @property
    def compression(self) -> int:
        return self.facts.compression if self.facts else 2048

    def frames_that_fit(self, frame: int) -> str:
        """The N_SIGNAL values next to this one that are whole latent frames (and not below the config's floor)."""
        floor = self.facts.min_n_signal if self.facts else frame
        below, above = self.n_signal // frame * frame, (self.n_signal // frame + 1) * frame
        return f"use N_SIGNAL={below if below >= floor else above} or {above}"

    def timeline_bytes(self, from_step: int, phase_1: int) -> tuple[int, int]:
        """-> (checkpoints SAVE_EVERY keeps from this step to max_steps, their bytes)."""
        phase_mb = self.facts.checkpoint_mb if self.facts else (0, 0)
        steps = range((from_step // self.save_every + 1) * self.save_every, self.max_steps + 1, self.save_every)
        return len(steps), sum(int(phase_mb[s > phase_1] * 1e6) for s in steps)

    def batch_for_gpu(self, gb: float) -> int | None:
        fits = [b for mem, b in sorted(self.batch_by_gpu_gb.items()) if mem <= gb * 1.05]
        return fits[-1] if fits else None

    @staticmethod
    def train_examples(chunks: int) -> int:
        """Of a database's chunks, those RAVE's 98/2 split trains on."""
        return (98 * chunks) // 100

    def min_chunks(self, batch: int) -> int:
        """Fewest database chunks for which RAVE's 98/2 split gives a validation set big enough for
        the PCA (val_chunks * n_signal / compression >= 128) and at least one training batch."""
        n = 1
        while True:
            val = n - self.train_examples(n)
            if val * self.n_signal // self.compression >= PCA_COMPONENTS and n - val >= batch:
                return n
            n += 1

    def check(self) -> None:
        where = f" in recipe {self.name}"
        for field in ("n_signal", "max_steps", "val_every", "save_every", "cpu_batch", "sampling_rate", "channels"):
            setattr(self, field, check_count(field, getattr(self, field), 1, where))
        self.workers = check_count("workers", self.workers, 0, where)
        known = augmentations()
        for name in self.augment:
            if known and name not in known:
                raise UserError(
                    f"augmentation {name!r} is not one of acids-rave's: {', '.join(sorted(known))} "
                    "(AUGMENT=a,b or AUGMENT=none)"
                )
        floor = self.facts.min_n_signal if self.facts else 0
        if self.n_signal < floor:
            raise UserError(
                f"n_signal {self.n_signal} is too small for RAVE {self.config}: use N_SIGNAL={floor} or more"
            )
        if self.n_signal % self.compression:
            raise UserError(
                f"N_SIGNAL={self.n_signal} does not fit RAVE {self.config}: an example must be a whole number of "
                f"latent frames of {self.compression} samples (RATIOS x N_BAND of its config); "
                + self.frames_that_fit(self.compression)
            )
        if self.tag and (self.tag in (".", "..") or "/" in self.tag or "\0" in self.tag):
            raise UserError(
                f"TAG={self.tag!r} would put the run outside {self.root / 'runs'}: a tag is one folder name "
                "(no '/', not '.' or '..'), e.g. TAG=batch8"
            )
        if self.channels < 1 or self.sampling_rate < 8000:
            raise UserError(f"recipe {self.name}: channels must be >= 1 and sampling_rate >= 8000")


def exports_dir(root: Path | None, exports: str | None) -> Path:
    """Where every export goes, trained and hand-written alike: EXPORTS (absolute, or under ROOT)."""
    return Path(root or REPO).resolve() / (exports or "exports")


def augmentations() -> set[str]:
    """Names of acids-rave's augmentation configs (rave/configs/augmentations/*.gin), without importing rave."""
    import importlib.util

    spec = importlib.util.find_spec("rave")
    if spec is None or not spec.submodule_search_locations:
        return set()
    folder = Path(list(spec.submodule_search_locations)[0]) / "configs" / "augmentations"
    return {p.stem for p in folder.glob("*.gin")}


def names() -> list[str]:
    """The recipes: one configs/<name>.toml each, nothing else to edit to add one."""
    return sorted(p.stem for p in CONFIGS.glob("*.toml"))


def load(name_or_path: str, root: Path | None = None, **overrides) -> Recipe:
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = CONFIGS / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(names())
        if not known:
            raise UserError(
                f"no recipes in {CONFIGS}: set RAVE_PIPELINE_CONFIGS to a folder of recipe .toml files "
                "(a checkout's configs/)"
            )
        raise UserError(f"recipe {name_or_path!r} not found ({path}): choose one of {known} or give a .toml path")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: not valid TOML ({e}); fix the file")
    data["batch_by_gpu_gb"] = {int(k): int(v) for k, v in data.get("batch_by_gpu_gb", {}).items()}
    data.update({k: v for k, v in overrides.items() if v is not None})
    fields = {f.name for f in dataclasses.fields(Recipe)}
    unknown = set(data) - fields - {"name"}
    if unknown:
        raise UserError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(fields))}")
    recipe = Recipe(name=data.pop("name", path.stem), root=Path(root or REPO).resolve(), **data)
    recipe.check()
    return recipe
