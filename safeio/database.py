"""RAVE's database format, read and written in one place: an LMDB of udls AudioExample records (int16
waveforms of shape [channels, samples]) with a metadata.yaml, as `rave preprocess` writes it. `chunks` reads
what a model was trained on; `synthetic_database` writes one filled with noise, for measuring speed and
memory (what the audio is does not change either): no recordings, no ffmpeg, no rave preprocess needed."""

from pathlib import Path

import numpy as np

from safeio.errors import UserError


def chunks(db: Path, count: int, samples: int) -> list[np.ndarray]:
    """`count` chunks spread evenly over the database (the same ones every time), each cut to its middle
    `samples` samples of the first channel, as float32 in [-1, 1]."""
    import lmdb
    from udls.generated import AudioExample

    if not (Path(db) / "data.mdb").is_file():
        raise UserError(f"{db}: no RAVE database there (run make preprocess-<recipe>)")
    env = lmdb.open(str(db), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            keys = [k for k, _ in txn.cursor()]
            picks = [keys[int(i)] for i in np.linspace(0, len(keys) - 1, min(count, len(keys)))] if keys else []
            out = []
            for key in dict.fromkeys(picks):
                ae = AudioExample.FromString(txn.get(key))
                buf = ae.buffers["waveform"]
                # shape[1] counts bytes, not samples, in rave preprocess's records: only the channel count is trusted
                x = np.frombuffer(buf.data, np.int16).reshape(int(buf.shape[0]), -1)[0].astype(np.float32) / 32768
                start = max((len(x) - samples) // 2, 0)
                out.append(x[start : start + samples])
    finally:
        env.close()
    return out


def synthetic_database(path: Path, chunks: int, chunk_samples: int, sr: int, channels: int = 1, seed: int = 0) -> Path:
    """An LMDB database as `rave preprocess` writes it (udls AudioExample records, int16, metadata.yaml),
    filled with noise: 16 distinct chunks, repeated."""
    import lmdb
    import yaml
    from udls.generated import AudioExample

    rng = np.random.default_rng(seed)
    distinct = []
    for _ in range(min(16, chunks)):
        x = rng.standard_normal((channels, chunk_samples)) * rng.uniform(0.05, 0.3)
        distinct.append(np.clip(x * 32767, -32767, 32767).astype(np.int16).tobytes())
    path.mkdir(parents=True, exist_ok=True)
    env = lmdb.open(str(path), map_size=chunks * chunk_samples * channels * 2 + (1 << 26))
    with env.begin(write=True) as txn:
        for i in range(chunks):
            ae = AudioExample()
            buf = ae.buffers["waveform"]
            buf.shape.extend([channels, chunk_samples])
            buf.sampling_rate = sr
            buf.data = distinct[i % len(distinct)]
            buf.precision = AudioExample.Precision.INT16
            txn.put(f"{i:08d}".encode(), ae.SerializeToString())
    env.close()
    (path / "metadata.yaml").write_text(
        yaml.safe_dump({"lazy": False, "channels": channels, "sr": sr, "n_seconds": chunks * chunk_samples / sr})
    )
    return path
