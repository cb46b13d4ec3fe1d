"""Policy for reading memory: query analysis, candidate generation, fusion, context."""
