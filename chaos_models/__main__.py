"""python -m chaos_models {export,export-essay,export-beyond} — see --help of each."""

import argparse
import sys

from safeio import UserError, cli_main, number, program
from spec.instruments import SEED_RANGE

# What an instrument can be built and played with: a conv of OPERATORS x OPERATORS x 5 must fit in memory and
# run in real time; w_mult is a finite, positive weight scale (above W_MULT_MAX every weight overflows the
# float32 circuit into silence); seeds are what torch.manual_seed takes (spec.instruments.SEED_RANGE).
OPERATORS_MAX, KERNEL_MAX, W_MULT_MAX = 1024, 63, 1000.0


SEED = number(int, *SEED_RANGE, "--seed")


def add_export(sub) -> None:
    ex = sub.add_parser(
        "export",
        prog=program("python -m chaos_models export"),
        help="export one instrument to TorchScript (+ manifest JSON)",
    )
    ex.add_argument(
        "--model",
        choices=[
            "chaos_effect",
            "model_synth",
            "streaming_chaos_effect",
            "morph_chaos_effect",
            "live_chaos_effect",
            "live_model_synth",
        ],
        default="chaos_effect",
    )
    ex.add_argument(
        "--operators",
        type=number(int, 1, OPERATORS_MAX, "--operators"),
        default=None,
        help="hidden channels (default: the essay's, 14 for chaos_effect, 7 for model_synth)",
    )
    ex.add_argument(
        "--w-mult",
        type=number(float, 1e-6, W_MULT_MAX, "--w-mult"),
        default=None,
        help="weight scale (default: the essay's, 2 for chaos_effect, 1 for model_synth)",
    )
    ex.add_argument(
        "--kernel",
        type=number(int, 1, KERNEL_MAX, "--kernel"),
        default=1,
        help="kernel size of conv_in/conv/conv_out (essay: 1)",
    )
    ex.add_argument(
        "--seed", type=SEED, default=0, help="weights = the essay's class built right after torch.manual_seed(SEED)"
    )
    ex.add_argument(
        "--seed-b", type=SEED, default=None, help="morph_chaos_effect: seed of weight set B (default SEED+1)"
    )
    ex.add_argument("--out", default=None, help="output .ts path (default: exports/<model>_ops<N>_w<W>_seed<S>.ts)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m chaos_models", description="Hand-written neural instruments for nn~ / nn.ar."
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    add_export(sub)
    es = sub.add_parser(
        "export-essay", prog=program("python -m chaos_models export-essay"), help="export the essay's instruments"
    )
    es.add_argument("--out-dir", default="exports")
    es.add_argument("--seed", type=SEED, default=0)

    eb = sub.add_parser(
        "export-beyond",
        prog=program("python -m chaos_models export-beyond"),
        help="export the streaming, morphing and (with --targets) hybrid instruments",
    )
    eb.add_argument("--out-dir", default="exports")
    eb.add_argument("--seed", type=SEED, default=0)
    eb.add_argument("--targets", nargs="*", default=[], help="recordings the hybrid is fine-tuned toward")
    eb.add_argument(
        "--steps",
        type=number(int, 1, 10**6, "--steps"),
        default=None,
        help="fine-tuning steps of the hybrid (default 300)",
    )
    return ap


def export_one(args) -> None:
    """`export`: one instrument, its settings checked, at the essay's values where none are given."""
    from chaos_models import export
    from spec import names
    from spec.instruments import ESSAY

    defaults = ESSAY["model_synth" if args.model.endswith("model_synth") else "chaos_effect"]
    ops = args.operators if args.operators is not None else defaults["operators"]
    w = args.w_mult if args.w_mult is not None else defaults["w_mult"]
    if ops < 1 or args.kernel < 1:
        raise UserError("--operators and --kernel must be at least 1")
    w = int(w) if float(w).is_integer() else w  # keep the essay's integer arithmetic when possible
    seed_b = (args.seed + 1 if args.seed_b is None else args.seed_b) if args.model == "morph_chaos_effect" else None
    out = args.out or f"exports/{names.hand_written(args.model, ops, w, args.kernel, args.seed, seed_b)}"
    if args.model.startswith("live_"):
        essay_ops = ESSAY[args.model.removeprefix("live_")]["operators"]
        if args.kernel != 1 or ops != essay_ops:
            raise UserError(
                f"{args.model} is the essay's {essay_ops}-operator, kernel-1 instrument; set seed and w_mult live"
            )
        model = export.build(args.model, seed=args.seed, w_mult=w)
    elif args.model == "morph_chaos_effect":
        if args.kernel != 1:
            raise UserError(f"morph_chaos_effect has kernel 1 only (the essay's), not --kernel {args.kernel}")
        model = export.build(args.model, operators=ops, w_mult=w, seed_a=args.seed, seed_b=seed_b)
    else:
        model = export.build(args.model, operators=ops, w_mult=w, kernel=args.kernel, seed=args.seed)
    print(f"exported {export.export(model, out)}")


@cli_main
def main(argv=None):
    from chaos_models import export

    args = parser().parse_args(argv)
    if args.cmd == "export":
        export_one(args)
    elif args.cmd == "export-essay":
        export.export_essay(args.out_dir, seed=args.seed)
    elif args.cmd == "export-beyond":
        export.export_beyond(args.out_dir, seed=args.seed, targets=args.targets, finetune_steps=args.steps)


if __name__ == "__main__":
    sys.exit(main())
