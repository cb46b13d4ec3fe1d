-- PostgreSQL migration 2, 'BM25 document length': MIGRATIONS[1] of
-- src/remem/stores/postgres.py at d94673f, verbatim. That release applied it once, then
-- recorded INSERT INTO schema_migrations (version, name) VALUES (2, 'BM25 document length').
-- runs of letters and digits, as SQLite FTS5's unicode61 tokenizer counts them
ALTER TABLE memories ADD COLUMN ntokens integer GENERATED ALWAYS AS (
    length(regexp_replace(text, '[[:alnum:]]+', 'x', 'g'))
    - length(regexp_replace(text, '[[:alnum:]]+', '', 'g'))) STORED;
