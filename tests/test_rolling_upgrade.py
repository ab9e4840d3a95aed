"""Upgrading a fleet without a failed request: two instances of the release before this one,
behind HAProxy running `deploy/haproxy.cfg`, on one PostgreSQL, under a load of reads, creates
and updates, each replaced in turn by this release, which migrates the schema as it starts.

The release before must keep serving on the migrated schema (this release's migrations only
add) and stay in the balancer meanwhile (its /ready accepts a schema ahead of it)."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from migrations import HEAD
from tests.databases import BACKEND, execute_sql, fresh_database_url, make_settings
from tests.fleet import CLIENTS, Fleet, Load, extract_release, running_fleet
from tests.services import PostgresServer

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="runs in the PostgreSQL pass")

# The release before the one that added product versions, counts and sort indexes.
PREVIOUS_RELEASE = "33269881022dcd510b44fcb371caefac3a08729d"


@pytest.fixture
def fleet_of_the_release_before(
    postgres_server: PostgresServer | None, tmp_path: Path
) -> Iterator[Fleet]:
    tree = extract_release(PREVIOUS_RELEASE, tmp_path)
    if tree is None:
        pytest.skip(f"{PREVIOUS_RELEASE[:8]} is not in this clone's history (a shallow clone?)")
    # The release before, importing its own code: its tree first on the path.
    with running_fleet(
        fresh_database_url(tmp_path), tmp_path, {"PYTHONPATH": str(tree)}
    ) as running:
        yield running


def test_a_rolling_upgrade_under_load_fails_no_request_and_loses_no_create(
    fleet_of_the_release_before: Fleet, tmp_path: Path
) -> None:
    fleet = fleet_of_the_release_before
    settings = make_settings(tmp_path, DATABASE_URL=fleet.database_url)
    before = execute_sql(settings, "SELECT version_num FROM alembic_version")
    load = Load.for_new_user(fleet.balancer.base_url)
    assert "etag" not in product_as_served(load)  # the release before answers
    with ThreadPoolExecutor(CLIENTS) as pool:
        clients = [pool.submit(load.client, n) for n in range(CLIENTS)]
        try:
            load.wait_for_more(200, "a steady load on the release before")
            for name in list(fleet.instances):
                fleet.replace(name, fleet.new_instance(name))  # this release: it migrates
                load.wait_for_more(100, f"load after replacing {name}")
        finally:
            load.stop.set()
            for future in clients:
                future.result(timeout=60)

    assert before != [(HEAD,)]
    assert execute_sql(settings, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    stored = {row[0] for row in execute_sql(settings, "SELECT id FROM products")}
    print(load.report("rolling upgrade", stored))
    assert load.errors == []
    assert all(status < 400 for status in load.statuses), load.statuses
    assert set(load.created) <= stored
    # What the release before wrote during the upgrade is counted (the triggers kept it).
    with httpx.Client(base_url=fleet.balancer.base_url, headers=load.headers) as http:
        page = http.get("/products", params={"limit": 1}).json()
    assert page["total"] == len(set(load.created)) + 1  # and the seed
    assert "etag" in product_as_served(load)  # this release answers


def product_as_served(load: Load) -> dict[str, object]:
    with httpx.Client(base_url=load.base_url, headers=load.headers) as http:
        body: dict[str, object] = http.get(f"/products/{load.product_id}").json()
    return body
