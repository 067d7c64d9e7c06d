"""Kefu's tests: real components over the wire; `support/` holds the harness and fake protocol servers."""
