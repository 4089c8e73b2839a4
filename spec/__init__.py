"""The facts every part of rave-to-chaos shares, written once: how the hosts run a model (host.py), what an
inlet is and its typed range (inlets.py), the essay's instruments (instruments.py) and the names of exports
(names.py). The bottom layer: it imports nothing but the standard library (import-linter checks it)."""
