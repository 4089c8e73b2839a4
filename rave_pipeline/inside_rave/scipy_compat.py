"""What acids-rave's PQMF filter design needs from SciPy, for SciPy releases newer than its pin (1.10).

rave/pqmf.py imports `scipy.signal.kaiser` (moved to scipy.signal.windows, then removed), calls `firwin` with
`nyq=` (removed in favour of `fs=`, twice the Nyquist rate) and `kaiserord` with a one-element array from
`fmin` (newer releases take a scalar only). On a machine with its own newer SciPy (a GPU machine's image)
these put the three back, computing the same numbers; on SciPy 1.10 `install()` changes nothing.
"""

import functools

import numpy as np


def install() -> None:
    import scipy.signal as signal

    if not hasattr(signal, "kaiser"):
        signal.kaiser = signal.windows.kaiser
    if "nyq" not in signal.firwin.__code__.co_varnames and not hasattr(signal.firwin, "rave_compat"):
        signal.firwin, signal.kaiserord = stand_ins(signal.firwin, signal.kaiserord)


def stand_ins(firwin, kaiserord):
    """(firwin that takes nyq=, kaiserord that takes one-element arrays) over the given ones."""

    @functools.wraps(firwin)
    def firwin_nyq(*args, nyq=None, **kwargs):
        if nyq is not None:
            kwargs["fs"] = 2 * nyq
        return firwin(*args, **kwargs)

    @functools.wraps(kaiserord)
    def kaiserord_scalar(ripple, width):
        return kaiserord(float(np.ravel(ripple)[0]), float(np.ravel(width)[0]))

    firwin_nyq.rave_compat = True
    return firwin_nyq, kaiserord_scalar
