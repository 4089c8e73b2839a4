"""acids-rave 2.3.1's facts this project relies on, each written once (docs/facts.md, "acids-rave", says how
each was measured; tests/test_spec_layer.py checks each against the installed acids-rave)."""

import dataclasses
import math

# v1.gin's PHASE_1_DURATION (v2 and v2_small include v1.gin): this many steps of plain reconstruction, the
# blurry stage, before the adversarial phase. Used for runs and exports that do not record their own.
PHASE_1_DEFAULT = 1_000_000
# Validation fits a PCA on the latent frames of the validation split, one component per latent dimension
# (LATENT_SIZE, 128 in v1.gin, which v2 and v2_small include).
PCA_COMPONENTS = 128


@dataclasses.dataclass(frozen=True)
class Config:
    ratios: tuple[int, ...]  # the encoder's downsampling ratios (gin RATIOS)
    bands: int  # the PQMF's band count (gin N_BAND)
    min_n_signal: int  # the smallest n_signal that trains (smaller: "Padding size should be less ...")
    checkpoint_mb: tuple[int, int]  # one checkpoint in phase 1 and in phase 2 (the discriminator's optimizer joins)

    @property
    def compression(self) -> int:
        """Samples per latent frame: every n_signal must be a whole number of them."""
        return math.prod(self.ratios) * self.bands


CONFIGS = {
    "v2_small": Config(ratios=(4, 2, 2, 2), bands=16, min_n_signal=40960, checkpoint_mb=(121, 175)),
    "v2": Config(ratios=(4, 4, 4, 2), bands=16, min_n_signal=71680, checkpoint_mb=(487, 704)),
}
