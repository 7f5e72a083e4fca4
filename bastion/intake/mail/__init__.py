"""security@ by email: one core function, ``receive_email``, and its three adapters (mailgate, LMTP, IMAP)."""
