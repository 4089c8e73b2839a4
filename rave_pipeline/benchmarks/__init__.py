"""Benchmarks of the RAVE pipeline: they print numbers and never assert (bench_train, bench_gpu with its
plan and report, bench_guard, bench_loader, bench_preprocess)."""
