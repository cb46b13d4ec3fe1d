"""Distribution by tenant on the Citus cluster: what ``remem.stores.postgres.citus`` makes of a
schema, that it can run again, that upgrades spread new tables, and that a tenant's query goes
to one worker. The conformance suite (every other test here, ``[citus]``) checks behaviour."""

from __future__ import annotations

import json
from collections.abc import Callable

import psycopg
import pytest
from conformance import bound, record, vec, write
from conftest import CITUS_SHARDS, Backend

from remem.errors import StoreError
from remem.model import Scope
from remem.stores.migrations import LATEST
from remem.stores.postgres.citus import distribute, distribute_tables
from remem.stores.postgres.schema import migrate

pytestmark = pytest.mark.citus

TENANT_TABLES = {
    "episodes",
    "memories",
    "memory_sources",
    "events",
    "entities",
    "entity_aliases",
    "entity_links",
    "extraction_jobs",
    "idempotency_keys",
    "vectors_next",
}


def layout(backend: Backend) -> dict[str, tuple[str, str, int, int]]:
    """Each table: (kind, distribution column, colocation group, shards)."""
    rows = backend.raw(
        "SELECT table_name::text, citus_table_type, distribution_column, colocation_id, "
        "shard_count FROM citus_tables WHERE table_name::text NOT LIKE '%%.%%' "
        "OR table_name::text LIKE %s",
        (f"{backend.schema}.%",),
    )
    mine = set(backend.tables())
    return {str(t).split(".")[-1]: tuple(r) for t, *r in rows if str(t).split(".")[-1] in mine}  # type: ignore[misc]


def test_tenant_tables_are_sharded_by_tenant_in_one_group_and_the_rest_copied(
    new_backend: Callable[..., Backend],
) -> None:
    backend = new_backend("citus")
    tables = layout(backend)
    assert set(tables) == TENANT_TABLES | {"meta", "schema_migrations"}
    for name in TENANT_TABLES:
        kind, column, _, shards = tables[name]
        assert (kind, column, shards) == ("distributed", "tenant", CITUS_SHARDS), name
    assert len({tables[name][2] for name in TENANT_TABLES}) == 1  # colocated with memories
    assert tables["meta"][0] == tables["schema_migrations"][0] == "reference"


def test_distributing_again_changes_nothing(new_backend: Callable[..., Backend]) -> None:
    backend = new_backend("citus")
    before = layout(backend)
    done = distribute(backend.target)
    assert (done.distributed, done.referenced) == ((), ())
    assert (done.shards, done.workers) == (CITUS_SHARDS, 2)
    assert layout(backend) == before


def test_an_upgrade_of_a_distributed_schema_distributes_the_tables_it_adds(
    new_backend: Callable[..., Backend],
) -> None:
    backend = new_backend("citus", fresh=True)
    with psycopg.connect(backend.target, autocommit=True) as conn:
        migrate(conn, "test", until=9)  # before vectors_next (step 10)
        distribute_tables(conn, CITUS_SHARDS)
    assert "vectors_next" not in backend.tables()
    store = bound(backend)  # opening it applies step 10
    assert backend.raw("SELECT max(version) FROM schema_migrations") == [(LATEST,)]
    tables = layout(backend)
    assert tables["vectors_next"][:2] == ("distributed", "tenant")
    assert tables["vectors_next"][2] == tables["memories"][2]
    write(store, (record("m1", "alpha"), vec(1)))
    assert store.get_memory("m1", "t1") is not None


def test_a_tenants_rows_live_on_one_worker_and_its_queries_go_there(
    new_backend: Callable[..., Backend],
) -> None:
    backend = new_backend("citus")
    store = bound(backend)
    tenants = [f"tenant-{n}" for n in range(8)]
    for n, tenant in enumerate(tenants):
        write(store, *[(record(f"{tenant}-{i}", f"note {i}", Scope(tenant=tenant)), vec(1, n, i))
                       for i in range(3)])  # fmt: skip
    workers = {}
    for tenant in tenants:
        [(shard,)] = backend.raw(
            "SELECT get_shard_id_for_distribution_column(%s, %s::text)",
            (f"{backend.schema}.memories", tenant),
        )
        [(port,)] = backend.raw("SELECT nodeport FROM citus_shards WHERE shardid = %s", (shard,))
        workers[tenant] = port
        plan = "\n".join(
            r[0]
            for r in backend.raw(
                "EXPLAIN SELECT id FROM memories WHERE tenant = %s "
                "ORDER BY embedding <=> %s::vector LIMIT 10",
                (tenant, str(vec(1).tolist())),
            )
        )
        assert "Task Count: 1" in plan, plan  # routed to the one shard holding the tenant
        [(here,)] = backend.raw(
            "SELECT result::int FROM run_command_on_placements(%s, %s::text) WHERE shardid = %s",
            (
                f"{backend.schema}.memories",
                f"SELECT count(*) FROM %s WHERE tenant = '{tenant}'",
                shard,
            ),
        )
        assert here == 3
    assert len(set(workers.values())) == 2  # eight tenants over two workers: both hold some


def test_stats_count_the_bytes_held_in_the_shards(new_backend: Callable[..., Backend]) -> None:
    store = bound(new_backend("citus"))
    empty = store.stats(Scope(tenant="t1"))["bytes"]
    write(store, *[(record(f"m{i}", "lorem ipsum " * 200), vec(1, i)) for i in range(50)])
    assert store.stats(Scope(tenant="t1"))["bytes"] > empty > 0


@pytest.mark.postgres
def test_plain_postgresql_is_refused_with_what_to_do(new_backend: Callable[..., Backend]) -> None:
    backend = new_backend("postgres")
    with pytest.raises(StoreError, match="no citus extension"):
        distribute(backend.target)


def test_the_cli_distributes_a_new_schema_and_says_so(new_backend: Callable[..., Backend]) -> None:
    from typer.testing import CliRunner

    from remem.interfaces.cli import app

    backend = new_backend("citus", fresh=True)
    run = CliRunner().invoke(app, ["--db", backend.target, "distribute", "--shards", "2", "--json"])
    assert run.exit_code == 0, run.output
    done = json.loads(run.stdout)
    assert set(done["distributed"]) == TENANT_TABLES
    assert (done["shards"], done["workers"]) == (2, 2)
    again = CliRunner().invoke(app, ["--db", backend.target, "distribute"])
    assert again.exit_code == 0 and "0 tables distributed by tenant" in again.stdout
