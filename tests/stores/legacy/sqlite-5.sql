-- SQLite schema 5 as released: _SCHEMA of src/remem/stores/sqlite.py at 3a92fa9 (SCHEMA_VERSION = 5),
-- verbatim. That release ran it on every open, then recorded meta.schema_version = 5.
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS episodes (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL, user_id TEXT, agent_id TEXT, session_id TEXT,
    seq INTEGER NOT NULL, role TEXT NOT NULL, speaker TEXT, content TEXT NOT NULL,
    occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL, source TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS episodes_stream ON episodes (tenant, user_id, agent_id, session_id, seq);
CREATE TABLE IF NOT EXISTS memories (
    rk INTEGER PRIMARY KEY,
    id TEXT NOT NULL, version INTEGER NOT NULL,
    tenant TEXT NOT NULL, user_id TEXT, agent_id TEXT, session_id TEXT,
    kind TEXT NOT NULL, text TEXT NOT NULL, provenance TEXT NOT NULL DEFAULT '[]',
    valid_from TEXT, valid_to TEXT, recorded_at TEXT NOT NULL, expired_at TEXT,
    importance REAL NOT NULL, access_count INTEGER NOT NULL DEFAULT 0, last_accessed_at TEXT,
    status TEXT NOT NULL, metadata TEXT NOT NULL DEFAULT '{}',
    layer TEXT NOT NULL DEFAULT 'short', stability REAL, pinned INTEGER NOT NULL DEFAULT 0,
    UNIQUE (id, version)
);
CREATE INDEX IF NOT EXISTS memories_scope ON memories (tenant, user_id, status, rk);
CREATE INDEX IF NOT EXISTS memories_directive
    ON memories (tenant, json_extract(metadata, '$."directive"')) WHERE expired_at IS NULL;
CREATE TABLE IF NOT EXISTS memory_sources (
    rk INTEGER NOT NULL REFERENCES memories (rk) ON DELETE CASCADE,
    episode_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS memory_sources_episode ON memory_sources (episode_id);
CREATE INDEX IF NOT EXISTS memory_sources_rk ON memory_sources (rk);
CREATE TABLE IF NOT EXISTS vectors (
    rk INTEGER PRIMARY KEY REFERENCES memories (rk) ON DELETE CASCADE,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE, at TEXT NOT NULL, op TEXT NOT NULL,
    memory_id TEXT NOT NULL, version INTEGER,
    tenant TEXT NOT NULL, user_id TEXT, agent_id TEXT, session_id TEXT,
    reason TEXT, payload TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_memory ON events (tenant, memory_id, seq);
CREATE TABLE IF NOT EXISTS entities (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, user_id TEXT,
    name TEXT NOT NULL, type TEXT NOT NULL, aliases TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, metadata TEXT NOT NULL DEFAULT '{}',
    vector BLOB
);
CREATE INDEX IF NOT EXISTS entities_scope ON entities (tenant, user_id);
CREATE TABLE IF NOT EXISTS entity_aliases (
    tenant TEXT NOT NULL, user_id TEXT, alias TEXT NOT NULL,
    entity_id TEXT NOT NULL REFERENCES entities (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS entity_aliases_lookup ON entity_aliases (tenant, user_id, alias);
CREATE INDEX IF NOT EXISTS entity_aliases_entity ON entity_aliases (entity_id);
CREATE TABLE IF NOT EXISTS entity_links (
    lk INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL, memory_id TEXT NOT NULL,
    entity_id TEXT NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    UNIQUE (tenant, memory_id, entity_id)
);
CREATE INDEX IF NOT EXISTS entity_links_entity ON entity_links (tenant, entity_id, lk);
CREATE TABLE IF NOT EXISTS extraction_jobs (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL, user_id TEXT, agent_id TEXT, session_id TEXT,
    episode_ids TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, error TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    extracted TEXT, retry_at TEXT, claimed_by TEXT, claimed_at TEXT
);
CREATE INDEX IF NOT EXISTS extraction_jobs_queue ON extraction_jobs (tenant, created_at);
