"""The RAVE side: raw recordings -> rave preprocess -> rave train -> rave export --streaming.

Thin, safe wrappers around acids-rave's own CLI: recipes (configs/*.toml), input checking, resumable
training, atomic exports. Nothing of RAVE is re-implemented.
"""
