"""The agent desk: store, HTTP API, CLI, a real browser, a live Rasa."""
