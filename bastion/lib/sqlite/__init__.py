"""SQLite with a fair queue for writers (the Django ENGINE ``bastion.lib.sqlite``); see ``base``."""
