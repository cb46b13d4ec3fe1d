"""Benchmark harness: neutral dataset loaders and retrieval metrics.

- `remem.eval.datasets`: loaders for LoCoMo, LongMemEval, BEAM and HaluMem into one
  neutral shape (`Conversation` -> `Session` -> `Turn`, plus `Question` with gold ids).
- `remem.eval.metrics`: pure metric functions over ranked id lists, following the
  official evaluation scripts of each benchmark.

Nothing here depends on the engine; importing this package is cheap.
"""
