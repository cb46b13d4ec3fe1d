-- PostgreSQL migration 1, 'initial schema': MIGRATIONS[0] of
-- src/remem/stores/postgres.py at d94673f, verbatim. That release applied it once, then
-- recorded INSERT INTO schema_migrations (version, name) VALUES (1, 'initial schema').
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE episodes (
    rk bigserial NOT NULL,
    id text NOT NULL,
    tenant text NOT NULL, user_id text, agent_id text, session_id text,
    seq integer NOT NULL, role text NOT NULL, speaker text, content text NOT NULL,
    occurred_at timestamptz NOT NULL, recorded_at timestamptz NOT NULL, source text NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant, id)
);
CREATE INDEX episodes_stream ON episodes (tenant, user_id, agent_id, session_id, seq);
CREATE TABLE memories (
    rk bigserial NOT NULL,
    id text NOT NULL, version integer NOT NULL,
    tenant text NOT NULL, user_id text, agent_id text, session_id text,
    kind text NOT NULL, text text NOT NULL, provenance jsonb NOT NULL DEFAULT '[]',
    valid_from timestamptz, valid_to timestamptz,
    recorded_at timestamptz NOT NULL, expired_at timestamptz,
    importance double precision NOT NULL, access_count integer NOT NULL DEFAULT 0,
    last_accessed_at timestamptz,
    status text NOT NULL, metadata jsonb NOT NULL DEFAULT '{}',
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED,
    PRIMARY KEY (tenant, rk),
    UNIQUE (tenant, id, version)
);
CREATE INDEX memories_scope ON memories (tenant, user_id, status, rk);
CREATE INDEX memories_tsv ON memories USING gin (tsv);
CREATE TABLE memory_sources (
    tenant text NOT NULL,
    rk bigint NOT NULL,
    episode_id text NOT NULL,
    FOREIGN KEY (tenant, rk) REFERENCES memories (tenant, rk) ON DELETE CASCADE
);
CREATE INDEX memory_sources_rk ON memory_sources (tenant, rk);
CREATE INDEX memory_sources_episode ON memory_sources (tenant, episode_id);
CREATE TABLE events (
    seq bigserial NOT NULL,
    id text NOT NULL, at timestamptz NOT NULL, op text NOT NULL,
    memory_id text NOT NULL, version integer,
    tenant text NOT NULL, user_id text, agent_id text, session_id text,
    reason text, payload jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant, seq),
    UNIQUE (tenant, id)
);
CREATE INDEX events_memory ON events (tenant, memory_id, seq);
