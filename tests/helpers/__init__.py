"""Helpers shared by the tests: generated audio, a real Slurm cluster, running the project's CLIs."""
