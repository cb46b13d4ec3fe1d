-- PostgreSQL migration 3, 'metadata filter index': MIGRATIONS[2] of
-- src/remem/stores/postgres.py at d94673f, verbatim. That release applied it once, then
-- recorded INSERT INTO schema_migrations (version, name) VALUES (3, 'metadata filter index').
-- metadata filters are containment (@>): a rare key/value is an index lookup, not a scan
CREATE INDEX memories_metadata ON memories USING gin (metadata jsonb_path_ops);
