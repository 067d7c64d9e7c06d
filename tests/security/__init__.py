"""Attacks on Kefu, each one answered (docs/security.md)."""
