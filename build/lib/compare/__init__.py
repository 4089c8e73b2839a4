"""Compare trained and hand-written instruments: render one input set through every export and
measure what the essay only heard (homogenisation, linearity, resonances, self-oscillation)."""
