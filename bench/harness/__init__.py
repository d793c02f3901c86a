"""The measuring machinery: stack registry, in-process workers, uvicorn+wrk, Redis counts, the report."""
