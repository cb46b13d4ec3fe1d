"""Text and time helpers that both ``pipeline`` and ``retrieval`` use.

Neutral ground below both: nothing here imports ``pipeline``, ``retrieval``, the engine or
a store, so the two layers above can share words, token counts, time phrases and entity
names without importing each other.
"""
