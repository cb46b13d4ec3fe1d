"""Benchmark harness behind ``remem eval``: remem against BM25 and dense baselines on
public long-term-memory benchmarks, plus LLM-judged QA and HaluMem extraction metrics.

What each module imports (only `runner` drives the engine):

- `remem.eval.datasets`: one loader per benchmark (LoCoMo, LongMemEval, BEAM, HaluMem)
  into one neutral shape (`Conversation` -> `Session` -> `Turn`, plus `Question` with
  gold ids).  Standard library only.
- `remem.eval.metrics`: pure metric functions over ranked id lists, following the
  official evaluation scripts of each benchmark.  numpy and the `datasets` records only.
- `remem.eval.qa` (prompts in `qa_prompts`): answers from retrieved hits, judged by an
  LLM.  `remem.providers.llm`, `remem.model`, `remem.errors`; not the engine.
- `remem.eval.operations`: HaluMem extraction and update metrics.  `remem.providers`
  (LLM, embedder) and `remem.model`; not the engine.
- `remem.eval.report`: the .md/.json/.png of a run, from `metrics` and `operations`
  (matplotlib optional).
- `remem.eval.runner`: ingests each conversation into a `remem.engine.Memory`, searches
  it with each system's recipe (`remem.recipes`), builds contexts
  (`remem.retrieval.context`) and scores the hits with `metrics`, `qa` and `operations`.

`datasets` and `metrics` import nothing from remem outside `remem.eval.datasets`
(tests/eval/test_imports.py keeps it so), so they can be reused without a store.
Importing any ``remem.*`` module still runs ``remem/__init__``, which loads the engine.
"""
