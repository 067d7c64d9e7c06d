"""``python -m kefu.desk``: run the agent desk (port KEFU_DESK_PORT, default 5006)."""
from kefu.desk.app import main

main()
