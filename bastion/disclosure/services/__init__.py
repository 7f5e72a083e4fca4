"""Disclosure's services: typed functions with keyword arguments and an explicit ``actor``."""
