"""Benchmarks: speed, memory and quality figures, written under reports/."""
