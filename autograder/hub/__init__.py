"""The course on a JupyterHub: `make hub` (python -m autograder.hub) and the hub test (tests/hub/).

accounts.py    Unix users with passwords (PAM), made and removed by the hub only
postgres.py    a private PostgreSQL server for the gradebook
server.py      start / stop JupyterHub with jupyterhub_config.py
"""
