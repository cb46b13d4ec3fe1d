-- PostgreSQL migration 6, 'extraction jobs keep their answer, retry time and claim': MIGRATIONS[5] of
-- src/remem/stores/postgres.py at d94673f, verbatim. That release applied it once, then
-- recorded INSERT INTO schema_migrations (version, name) VALUES (6, 'extraction jobs keep their answer, retry time and claim').
ALTER TABLE extraction_jobs
    ADD COLUMN extracted jsonb,
    ADD COLUMN retry_at timestamptz,
    ADD COLUMN claimed_by text,
    ADD COLUMN claimed_at timestamptz;
