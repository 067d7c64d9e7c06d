"""Load and fault benchmarks of the production profile (`make bench-load`,
`make bench-faults`), results under reports/load and reports/faults."""
