"""All table models. Every module in this package is imported so that Alembic and the mappers see it."""

import importlib
import pkgutil

from tripl_core.db.base import Base

for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")

metadata = Base.metadata
