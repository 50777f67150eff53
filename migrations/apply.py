"""Apply migrations and seed reference data (plans, agent prices). Idempotent.

Here rather than in ``core``: seeding needs the domains (tenants' plans, billing's prices), and
``core`` imports no domain."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from core.db import get_engine, session_scope

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    return cfg


def upgrade() -> None:
    get_engine()  # creates the SQLite folder if needed
    command.upgrade(alembic_config(), "head")
    seed()


def seed() -> None:
    from billing.service import sync_prices
    from tenants.service import ensure_default_plans

    with session_scope() as session:
        ensure_default_plans(session)
        sync_prices(session)
