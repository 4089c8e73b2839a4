"""Read what a model was trained on: chunks of a database as `rave preprocess` writes it (LMDB of udls
AudioExample records, int16 waveforms of shape [channels, samples])."""
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
                out.append(x[start:start + samples])
    finally:
        env.close()
    return out
