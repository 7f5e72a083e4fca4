"""Disclosure's staff views: thin function views over the disclosure services."""
