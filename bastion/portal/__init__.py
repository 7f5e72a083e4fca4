"""The reporter's side: a magic link (no account) to a report's status, timeline and conversation."""
