"""Test utilities shipped with remem, for its own tests and for applications built on it.

Nothing here is imported by the engine; it exists so code that talks to an LLM can be
tested end to end against a real HTTP server with scripted answers.
"""

from remem.testing.openai_server import Exchange, Reply, ScriptedOpenAIServer

__all__ = ["Exchange", "Reply", "ScriptedOpenAIServer"]
