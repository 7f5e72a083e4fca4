"""The reference for benchmarks/web_intake.py: a bare Django app that inserts one row per POST.

Same server (granian, WSGI threads), same SQLite pragmas (WAL, synchronous=FULL, IMMEDIATE,
persistent connections) as Bastion, and nothing else: no middleware, no templates, no crypto.
"""
