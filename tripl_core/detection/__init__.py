"""Detection maths: pure numpy/pandas/scipy functions, no I/O (see docs/detection.md)."""
