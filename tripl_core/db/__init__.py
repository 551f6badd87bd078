"""Database access: typed models, engine/session factory, migrations."""
