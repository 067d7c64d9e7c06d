"""The production profile: PostgreSQL, Redis, RabbitMQ, several instances, failures."""
