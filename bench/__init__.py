"""Benchmarks of the platform: `make bench` (full) and `make bench-quick`;
results in bench/RESULTS.md. See bench/__main__.py for the phases."""
