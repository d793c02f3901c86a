"""Alembic migrations of asgi_guard's schema (run with ``python -m asgi_guard db upgrade``)."""
