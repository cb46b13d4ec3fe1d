-- PostgreSQL migration 5, 'knowledge graph and extraction queue': MIGRATIONS[4] of
-- src/remem/stores/postgres.py at d94673f, verbatim. That release applied it once, then
-- recorded INSERT INTO schema_migrations (version, name) VALUES (5, 'knowledge graph and extraction queue').
CREATE TABLE entities (
    id text NOT NULL,
    tenant text NOT NULL, user_id text,
    name text NOT NULL, type text NOT NULL, aliases jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}',
    vector bytea,  -- float32 name embedding; compared in the resolver, never indexed
    PRIMARY KEY (tenant, id)
);
CREATE INDEX entities_scope ON entities (tenant, user_id);
CREATE TABLE entity_aliases (
    tenant text NOT NULL, user_id text, alias text NOT NULL, entity_id text NOT NULL,
    FOREIGN KEY (tenant, entity_id) REFERENCES entities (tenant, id) ON DELETE CASCADE
);
CREATE INDEX entity_aliases_lookup ON entity_aliases (tenant, user_id, alias);
CREATE INDEX entity_aliases_entity ON entity_aliases (tenant, entity_id);
CREATE TABLE entity_links (
    lk bigserial NOT NULL,
    tenant text NOT NULL, memory_id text NOT NULL, entity_id text NOT NULL,
    PRIMARY KEY (tenant, memory_id, entity_id),
    FOREIGN KEY (tenant, entity_id) REFERENCES entities (tenant, id) ON DELETE CASCADE
);
CREATE INDEX entity_links_entity ON entity_links (tenant, entity_id, lk);
CREATE TABLE extraction_jobs (
    id text NOT NULL,
    tenant text NOT NULL, user_id text, agent_id text, session_id text,
    episode_ids jsonb NOT NULL, status text NOT NULL, attempts integer NOT NULL, error text,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX extraction_jobs_queue ON extraction_jobs (tenant, created_at);
