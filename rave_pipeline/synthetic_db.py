"""A database in RAVE's own format, filled with noise, for measuring speed and memory (what the audio is
does not change either): no recordings, no ffmpeg, no rave preprocess needed."""
from pathlib import Path

import numpy as np


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
    (path / "metadata.yaml").write_text(yaml.safe_dump({"lazy": False, "channels": channels, "sr": sr,
                                                          "n_seconds": chunks * chunk_samples / sr}))
    return path
