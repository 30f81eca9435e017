"""The benchmarks: ``python -m benchmarks [--quick] [--write-readme] [--callgrind]``."""
