"""Policy for writing memory: ingest turns, and (later stages) extract, consolidate, link, maintain."""
