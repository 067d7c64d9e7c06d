"""Running Kefu's processes: the one supervisor, the command lines of each
server, the embedded stack (`make run`) and the production profile
(`make run-prod`), and the entry points of the Rasa and action servers."""
