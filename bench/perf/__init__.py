"""Side-by-side performance of Kefu, Rasa's default config on Kefu's data and
the `rasa init` moodbot (`make bench-perf`, results under reports/perf)."""
