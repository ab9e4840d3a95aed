"""Two `stockroom serve` instances behind HAProxy running `deploy/haproxy.cfg` as it is, on one
PostgreSQL and one Redis: restarting them one at a time under load loses no request."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.databases import BACKEND, execute_sql, fresh_database_url, make_settings
from tests.fleet import CLIENTS, Fleet, Load, running_fleet
from tests.services import PostgresServer

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="runs in the PostgreSQL pass")


@pytest.fixture
def fleet(postgres_server: PostgresServer | None, tmp_path: Path) -> Iterator[Fleet]:
    with running_fleet(fresh_database_url(tmp_path), tmp_path) as running:
        yield running


def test_a_rolling_restart_under_load_loses_no_request_and_no_create(
    fleet: Fleet, tmp_path: Path
) -> None:
    load = Load.for_new_user(fleet.balancer.base_url)
    with ThreadPoolExecutor(CLIENTS) as pool:
        clients = [pool.submit(load.client, n) for n in range(CLIENTS)]
        try:
            load.wait_for_more(200, "a steady load before the first restart")
            for name in list(fleet.instances):
                fleet.replace(name, fleet.new_instance(name))
            load.wait_for_more(200, "load after the restarts")
        finally:
            load.stop.set()
            for future in clients:
                future.result(timeout=60)

    settings = make_settings(tmp_path, DATABASE_URL=fleet.database_url)
    stored = {row[0] for row in execute_sql(settings, "SELECT id FROM products")}
    print(load.report("rolling restart", stored))
    assert load.errors == []
    assert all(status < 500 for status in load.statuses), load.statuses
    assert set(load.created) <= stored
