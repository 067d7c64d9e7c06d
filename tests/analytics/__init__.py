"""Analytics: ingestion from the tracker store and RabbitMQ, the figures, the dashboard."""
