"""An nn~-faithful host in Python: inspect, render, validate and benchmark any TorchScript export.

Trained RAVE exports and hand-written chaos_models exports run through the same code path, block by
block, exactly as nn~ (Max/Pd) and nn.ar (SuperCollider) run them.
"""
