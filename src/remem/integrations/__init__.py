"""Adapters for the frameworks agents are built with; each imports its framework lazily.

``remem.integrations.langgraph`` (``remem[langgraph]``): ``RememStore``, LangGraph's
long-term store. ``remem.integrations.agents`` (``remem[agents]``): ``RememSession``, an
OpenAI Agents SDK session. Mem0 compatibility lives in the service (``remem serve
--mem0-compat``) and in ``remem import --from mem0``. Importing ``remem`` imports none of them.
"""
