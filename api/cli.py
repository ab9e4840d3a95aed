"""`stockroom serve` runs the API with its settings; `stockroom migrate` brings the schema to head."""

import argparse
import asyncio
import copy
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from api.config import load_settings
from migrations import schema_revision, upgrade_to_head
from models.connect import open_database


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's own logging, with Stockroom's loggers (mail, outages, Redis) beside it."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["stockroom"] = {"handlers": ["default"], "level": level, "propagate": False}
    return config


def serve(args: argparse.Namespace) -> None:
    settings = load_settings()
    trusted = (
        args.forwarded_allow_ips
        if args.forwarded_allow_ips is not None
        else (settings.FORWARDED_ALLOW_IPS)
    )
    uvicorn.run(
        "api.main:app",
        host=args.host or settings.HOST,
        port=args.port or settings.PORT,
        workers=args.workers or settings.WORKERS,
        # Believe X-Forwarded-For only from the listed proxies; with none listed, from nobody.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        server_header=False,
        # After the drain (api/drain.py): how long requests in flight may take to finish.
        timeout_graceful_shutdown=round(settings.SHUTDOWN_TIMEOUT_SECONDS),
        # uvloop's libuv accepts one connection per loop iteration (libuv PR #3696), so under
        # load a burst of new connections waits up to one iteration each; asyncio's loop
        # accepts all that are waiting, at the same throughput (bench/README.md, "uvloop").
        loop="asyncio",
        http="httptools",
        log_level=settings.LOG_LEVEL.lower(),
        log_config=log_config(settings.LOG_LEVEL.upper()),
    )


def migrate(_args: argparse.Namespace) -> None:
    settings = load_settings()

    async def run() -> tuple[str | None, str | None]:
        await upgrade_to_head(
            settings.DATABASE_URL, connect_timeout=settings.DB_CONNECT_TIMEOUT_SECONDS
        )
        database = open_database(settings.DATABASE_URL, settings.database_options)
        try:
            return await schema_revision(database)
        finally:
            await database.close()

    current, head = asyncio.run(run())
    print(f"stockroom: database at revision {current} (head {head})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="stockroom", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the API (settings from the environment)")
    serve_parser.add_argument("--host", help="default: HOST or 127.0.0.1")
    serve_parser.add_argument("--port", type=int, help="default: PORT or 8000")
    serve_parser.add_argument("--workers", type=int, help="default: WORKERS or 1")
    serve_parser.add_argument(
        "--forwarded-allow-ips",
        help="comma-separated proxy addresses whose X-Forwarded-For is trusted "
        "(default: FORWARDED_ALLOW_IPS, empty = trust none)",
    )
    serve_parser.set_defaults(run=serve)
    migrate_parser = commands.add_parser("migrate", help="upgrade the database schema to head")
    migrate_parser.set_defaults(run=migrate)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
