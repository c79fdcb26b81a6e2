"""JupyterHub's configuration for the course (`jupyterhub -f autograder/hub/jupyterhub_config.py`).

Written by autograder/hub/server.py into settings.json (path in $INITNORM_HUB_SETTINGS): ports, accounts and
their roles, the folders. What it sets up:

- everything on 127.0.0.1: the proxy (configurable-http-proxy, from npm), the hub, each single-user server;
- PAM: the accounts are Unix users, logging in takes their password; only the course's accounts are allowed;
- the local-process spawner: each user's JupyterLab runs as that user, in their home. Through the course's
  jail (autograder/jail.py) in a mount namespace of its own, which makes the course's Python reachable when it
  lies in a folder other users cannot enter (here: under /root) and hides the reference solutions, the git
  history and the hub's own files from every user;
- roles through JUPYTER_CONFIG_PATH: a student's Jupyter reads autograder/jupyter/student (the Assignments
  panel and Validate only), an instructor's autograder/jupyter/instructor (every nbgrader tool); both read
  autograder/jupyter/common (no "official Jupyter news" prompt) and the hub's nbgrader_config.py (the exchange
  and the course id).
"""
import json
import os
import pwd

from jupyterhub.spawner import LocalProcessSpawner

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)
S = json.loads(open(os.environ["INITNORM_HUB_SETTINGS"]).read())
ROLES = {**{name: "student" for name in S["students"]}, **{name: "instructor" for name in S["instructors"]}}


class CourseSpawner(LocalProcessSpawner):
    """LocalProcessSpawner whose process switches to the user inside the jail rather than before it: the jail
    needs root to make its mount namespace, then drops to the user's uid and gid and starts the server."""

    def make_preexec_fn(self, name):
        return None

    async def start(self):
        user = pwd.getpwnam(self.user.name)
        jail = [S["python"], S["jail"], "--uid", str(user.pw_uid), "--gid", str(user.pw_gid), "--cwd", user.pw_dir]
        for path in S["hide"]:
            jail += ["--hide", path]
        for path in S["expose"]:
            jail += ["--expose", path]
        unshare = ["unshare", "--mount", "--propagation", "private", "--"]
        self.cmd = unshare + jail + ["--", os.path.join(S["bin"], "jupyterhub-singleuser")]
        return await super().start()


def role_environment(spawner) -> str:
    return S["config_path"][ROLES[spawner.user.name]]


c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = S["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = S["hub_port"]
c.JupyterHub.db_url = f"sqlite:///{S['state']}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{S['state']}/jupyterhub_cookie_secret"
c.ConfigurableHTTPProxy.command = [S["proxy"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{S['proxy_api_port']}"
c.ConfigurableHTTPProxy.pid_file = f"{S['state']}/proxy.pid"
c.ConfigurableHTTPProxy.should_start = True

c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # no login session (utmp, systemd-logind) for a web login
c.Authenticator.allowed_users = set(ROLES)
c.JupyterHub.admin_access = False

c.JupyterHub.spawner_class = CourseSpawner
c.Spawner.ip = "127.0.0.1"
c.Spawner.default_url = "/lab"
c.Spawner.args = list(S.get("singleuser_args", []))
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
c.Spawner.environment = {
    "PATH": f"{S['bin']}:/usr/local/bin:/usr/bin:/bin",
    "JUPYTER_CONFIG_PATH": role_environment,
    "PYTHONDONTWRITEBYTECODE": "1",
}
c.JupyterHub.shutdown_on_logout = False
c.JupyterHub.cleanup_servers = True
