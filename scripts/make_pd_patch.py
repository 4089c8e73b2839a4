"""Write hosts/puredata/side_by_side.local.pd from the template, with absolute paths to two exports.

    python scripts/make_pd_patch.py [--trained EXPORT.ts] [--chaos EXPORT.ts] [--buffer N]

(default: the noise recipe's export, the essay's ChaosEffect, the default buffer)

nn~ is safest with absolute model paths, so the patch is generated for this checkout.
"""

import argparse
import sys
from pathlib import Path

from audition.pd_patch import pd_symbol
from safeio import UserError, atomic_write_text, cli_main, warn
from spec import names
from spec.host import DEFAULT_BUFFER

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "hosts/puredata/side_by_side.pd.in"


@cli_main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from rave_pipeline.commands import recipes

    ap.add_argument("--trained", type=Path, default=recipes.load("noise").export_path)
    ap.add_argument("--chaos", type=Path, default=REPO / "exports" / names.essay("chaos_effect"))
    ap.add_argument(
        "--buffer", type=int, default=DEFAULT_BUFFER, help="nn~ buffer: a power of two, >= 512 for v2_small"
    )
    ap.add_argument("--out", type=Path, default=REPO / "hosts/puredata/side_by_side.local.pd")
    args = ap.parse_args(argv)
    if args.buffer < 512 or args.buffer & (args.buffer - 1):
        raise UserError(f"--buffer {args.buffer}: use a power of two of at least 512 (RAVE v2_small's latent frame)")
    for p in (args.trained, args.chaos):
        if not p.exists():
            warn(f"{p} does not exist yet (make export-all makes it); nn~ will say so when the patch opens")
    text = TEMPLATE.read_text()
    for key, value in {
        "@TRAINED@": pd_symbol(args.trained.resolve()),
        "@CHAOS@": pd_symbol(args.chaos.resolve()),
        "@BUFFER@": str(args.buffer),
    }.items():
        text = text.replace(key, value)
    atomic_write_text(args.out, text)
    print(f"wrote {args.out}: open it in Pd with nn~ installed")


if __name__ == "__main__":
    sys.exit(main())
