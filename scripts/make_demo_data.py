"""Build the embedded demo datasets from real recordings that Debian ships (see datasets/README.md).

    python scripts/make_demo_data.py [--minutes 4] [--out datasets]

noise/raw: passages joined from sonic-pi-samples (ambi_, loop_, vinyl_, glitch_) plus sox-synthesised
           noise-music textures.
voice/raw: English passages from asterisk-core-sounds-en-g722 (16 kHz) and Mandarin passages joined
           from gcin-voice syllables, the words drawn from pypinyin's phrase list.
Deterministic (fixed seed), idempotent (existing files are kept), every file written atomically.
"""

import argparse
import random
import subprocess
import sys
from pathlib import Path

import numpy as np

from safeio import UserError, cli_main, decode_audio, require_tool, write_wav
from spec.host import SR

PASSAGE_SECONDS = 60  # long files: rave preprocess drops each file's last partial chunk
SONIC_PI = Path("/usr/share/sonic-pi/samples")
ASTERISK = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
GCIN = Path("/usr/share/gcin-voice/ogg")
APT_HINT = "run make setup (it installs {pkg})"

# sox effect chains over white/pink/brown noise and sweeps: the "noise music" half of the noise set.
SOX_TEXTURES = [
    "synth {d} pinknoise overdrive 20 tremolo 7 60 gain -6",
    "synth {d} brownnoise phaser 0.8 0.74 3 0.7 0.5 -t gain -3",
    "synth {d} whitenoise flanger 10 5 0 80 0.3 sine gain -9 lowpass 3000",
    "synth {d} sine 40:4000 overdrive 30 echo 0.8 0.7 120 0.5 gain -6",
    "synth {d} square 55 pinknoise mix overdrive 15 tremolo 3 80 gain -6",
    "synth {d} brownnoise synth sine amod 0.3 gain -3 echo 0.8 0.6 250 0.4",
    "synth {d} whitenoise bandpass 800 0.3q tremolo 13 90 overdrive 10 gain -9",
    "synth {d} sawtooth 30:300 pinknoise mix phaser 0.6 0.66 3 0.6 2 -s gain -6",
]


def need(path: Path, pkg: str) -> None:
    if not path.exists():
        raise UserError(f"{path} not found: " + APT_HINT.format(pkg=pkg))


def normalise(x: np.ndarray, peak: float = 0.89) -> np.ndarray:
    x = np.nan_to_num(x)
    m = np.abs(x).max()
    return x * (peak / m) if m > 0 else x


def passages(clips, seconds: float, sr: int, gap: float, rng: random.Random):
    """Concatenate clips (shuffled, cycled) with `gap` s of silence into passages of ~`seconds`."""
    order = list(range(len(clips)))
    rng.shuffle(order)
    cur, n = [], 0
    silence = np.zeros(int(gap * sr), np.float32)
    for i in order:
        cur += [clips[i], silence]
        n += len(clips[i]) + len(silence)
        if n >= seconds * sr:
            yield np.concatenate(cur)
            cur, n = [], 0
    if n >= 10 * sr:  # a short tail is still useful if it holds a few chunks
        yield np.concatenate(cur)


def write_set(out_dir: Path, prefix: str, clips, total_s: float, sr: int, gap: float, seed: int) -> float:
    """Write passages until `total_s` seconds; existing files are kept (idempotent). Returns seconds."""
    rng, written, k = random.Random(seed), 0.0, 0
    while written < total_s:
        for p in passages(clips, min(PASSAGE_SECONDS, total_s), sr, gap, rng):
            k += 1
            path = out_dir / f"{prefix}_{k:02d}.wav"
            if not path.exists():
                write_wav(path, normalise(p), sr)
            written += len(p) / sr
            if written >= total_s:
                break
    print(f"  {prefix}: {k} files, {written / 60:.1f} min")
    return written


def trim(x: np.ndarray, sr: int, thresh: float = 0.02) -> np.ndarray:
    """Cut leading/trailing near-silence of a syllable recording (keeps 10 ms margins)."""
    loud = np.flatnonzero(np.abs(x) > thresh * max(np.abs(x).max(), 1e-9))
    if len(loud) == 0:
        return x[:0]
    pad = sr // 100
    return x[max(loud[0] - pad, 0) : loud[-1] + pad]


def noise_clips():
    need(SONIC_PI, "sonic-pi-samples")
    files = sorted(f for f in SONIC_PI.glob("*.flac") if f.name.split("_")[0] in {"ambi", "loop", "vinyl", "glitch"})
    return [decode_audio(f, SR)[0] for f in files]


def sox_textures(seconds: float = 14.0):
    sox = require_tool("sox")
    clips = []
    for i, chain in enumerate(SOX_TEXTURES):
        cmd = [sox, "-q", "-n", "-r", str(SR), "-c", "1", "-t", "f32", "-", *chain.format(d=seconds).split()]
        proc = subprocess.run(cmd, capture_output=True)
        if proc.returncode != 0:
            raise UserError(
                f"sox texture {i} failed ({proc.stderr.decode().strip()}); check that sox works: sox --version"
            )
        clips.append(np.frombuffer(proc.stdout, "<f4").copy())
    return clips


def english_clips(sr: int):
    need(ASTERISK, "asterisk-core-sounds-en-g722")
    return [decode_audio(f, sr, fmt="g722")[0] for f in sorted(ASTERISK.glob("*.g722"))]


TONES = {"ˊ": "2", "ˇ": "3", "ˋ": "4", "˙": "1"}  # gcin-voice folders: ㄅㄚ, ㄅㄚ2, ㄅㄚ3, ㄅㄚ4, ㄅㄚ1 (neutral)


def zhuyin_folder(syllable: str) -> str:
    tone = "".join(TONES.get(c, "") for c in syllable)
    return "".join(c for c in syllable if c not in TONES) + tone


def mandarin_clips(n_words: int, seed: int):
    """Words drawn from pypinyin's phrase list, spoken syllable by syllable; speakers alternate by word."""
    from pypinyin import Style, pinyin
    from pypinyin.phrases_dict import phrases_dict

    need(GCIN, "gcin-voice")
    words = sorted(phrases_dict)
    rng = random.Random(seed)
    cache: dict[Path, np.ndarray] = {}
    clips = []
    for w in rng.sample(words, n_words):
        speaker = rng.choice(["3.ogg", "5.ogg"])
        parts = []
        for (syl,) in pinyin(w, style=Style.BOPOMOFO):
            base = zhuyin_folder(syl)
            cands = [GCIN / base / speaker, GCIN / base / "3.ogg", GCIN / base.rstrip("1234") / "3.ogg"]
            f = next((c for c in cands if c.exists()), None)
            if f is None:
                break
            if f not in cache:
                cache[f] = trim(decode_audio(f, SR)[0], SR)
            parts += [cache[f], np.zeros(SR // 40, np.float32)]
        else:
            if parts:
                clips.append(np.concatenate(parts))
    return clips


@cli_main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("datasets"), help="datasets folder (default: datasets)")
    ap.add_argument("--minutes", type=float, default=4.0, help="minutes per set: noise, English, Mandarin (default 4)")
    args = ap.parse_args(argv)
    total = args.minutes * 60
    noise_dir, voice_dir = args.out / "noise" / "raw", args.out / "voice" / "raw"

    stamp = args.out / f".demo-complete-{args.minutes:g}min"
    if stamp.exists():
        print(f"demo data is up to date in {noise_dir} and {voice_dir} (delete {stamp} to rebuild)")
        return
    print(f"demo data -> {noise_dir} and {voice_dir}")
    textures = sox_textures()
    tex_s = sum(len(t) for t in textures) / SR
    write_set(noise_dir, "sonicpi", noise_clips(), total - tex_s, SR, gap=0.05, seed=1)
    write_set(noise_dir, "soxtexture", textures, tex_s, SR, gap=0.0, seed=2)
    write_set(voice_dir, "english", english_clips(16000), total, 16000, gap=0.3, seed=3)
    # ~0.35 s per syllable, ~2.5 syllables per word: draw enough words for `total` seconds
    write_set(voice_dir, "mandarin", mandarin_clips(int(total / 0.8) + 50, seed=4), total, SR, gap=0.25, seed=5)
    stamp.touch()


if __name__ == "__main__":
    sys.exit(main())
