"""The central server's HTTP API (FastAPI): one router per kind of caller."""
