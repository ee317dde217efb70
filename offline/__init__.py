"""Offline tooling: the in-process mock engine, the plan command and check-export."""
