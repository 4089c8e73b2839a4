"""The four-panel figure of one model:method: output spectrogram, gain and THD against frequency, impulse
response, and the self-oscillation map."""

import math
from pathlib import Path

import numpy as np

from compare import analyse, probes


def figure(path: Path, title: str, result: dict, arrays: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sr = arrays["sr"]
    fig, ax = plt.subplots(2, 2, figsize=(12, 7.5))
    y = np.concatenate([o for o in arrays["outputs"].values()])
    ax[0, 0].specgram(y + 1e-9, NFFT=1024, Fs=sr, noverlap=512, cmap="magma", vmin=-140)
    ax[0, 0].set(title="output spectrogram (recordings, then probes)", xlabel="s", ylabel="Hz")
    for level, rows in result["frequency_response"].items():
        f = [r["freq_hz"] for r in rows]
        (line,) = ax[0, 1].semilogx(f, [r["gain_db"] for r in rows], label=f"{level} dBFS")
        ax[0, 1].semilogx(
            f, [20 * math.log10(max(r["thd"], 1e-6)) for r in rows], "--", color=line.get_color(), alpha=0.5
        )
    ax[0, 1].set(title="gain (solid) and THD (dashed) vs frequency", xlabel="Hz", ylabel="dB")
    ax[0, 1].legend(fontsize=8)
    ir = arrays["ir"][: int(0.02 * sr) + probes.IR_PREROLL]
    ax[1, 0].plot((np.arange(len(ir)) - probes.IR_PREROLL) * 1000 / sr, ir)
    ax[1, 0].set(title="impulse response (click minus silence, same seed)", xlabel="ms")
    osc = result["self_oscillation"]
    if osc["values"]:
        ax[1, 1].plot(osc["values"], osc["silent_input_db"], "o-", label="silent input")
        ax[1, 1].plot(osc["values"], osc["sine_input_db"], "s-", label="220 Hz sine input")
        if osc["threshold"] is not None:
            ax[1, 1].axvline(osc["threshold"], color="red", ls=":", label=f"threshold {osc['threshold']:.1f}")
        ax[1, 1].axhline(analyse.SILENT_DB, color="grey", lw=0.5)
        ax[1, 1].set(title=f"self-oscillation map: {osc['inlet']}", xlabel="control value", ylabel="AC level dBFS")
        ax[1, 1].legend(fontsize=8)
    else:
        ax[1, 1].text(
            0.5,
            0.5,
            f"no control inlet\nsilent-input level {osc['silent_input_db'][0]:.1f} dBFS",
            ha="center",
            va="center",
        )
        ax[1, 1].set_axis_off()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
