"""Service analytics: conversation events folded into tables, the figures
the managers' dashboard and ``make report`` show, and the trainers' loop
(misunderstood messages, labelled, exported as Rasa NLU YAML).

* :mod:`kefu.analytics.events`: one event at a time into ``analytics_*`` rows
  (the same code for both sources);
* :mod:`kefu.analytics.ingest`: the sources: Rasa's SQL tracker store
  (incremental, cursor in ``analytics_cursors``) and the RabbitMQ event broker;
* :mod:`kefu.analytics.metrics`: the figures over a date range;
* :mod:`kefu.analytics.report`: HTML report with PNG charts;
* :mod:`kefu.analytics.trainer`: label misunderstood messages, export NLU YAML.

See docs/analytics.md.
"""
