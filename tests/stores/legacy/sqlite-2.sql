-- SQLite schema 2 as released: _SCHEMA of src/remem/stores/sqlite.py at e85ad13 (SCHEMA_VERSION = 2),
-- verbatim. That release ran it on every open, then recorded meta.schema_version = 2.
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
