"""Coordination and disclosure: upstream hand-off, advisories, credit in public, exports, security.txt."""
