-- PostgreSQL migration 4, 'memory lifecycle: layer, stability, pinned': MIGRATIONS[3] of
-- src/remem/stores/postgres.py at d94673f, verbatim. That release applied it once, then
-- recorded INSERT INTO schema_migrations (version, name) VALUES (4, 'memory lifecycle: layer, stability, pinned').
-- rows written before the lifecycle existed belong to sessions that are over: short term
ALTER TABLE memories ADD COLUMN layer text NOT NULL DEFAULT 'short';
ALTER TABLE memories ADD COLUMN stability double precision;
ALTER TABLE memories ADD COLUMN pinned boolean NOT NULL DEFAULT false;
