"""Running Kefu's processes: the action server's entry point and the
supervisor that starts Rasa, the action server and the desk."""
