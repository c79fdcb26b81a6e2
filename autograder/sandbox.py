"""Where and how student code runs: resource limits, an unprivileged user per grading slot, hidden paths.

With root (as in CI) every grading slot gets its own system user (`initnorm-grader-N`), its own scratch folder
(mode 0700) and a private mount namespace in which the gradebook, the solutions, the submissions, /tmp and
/root are covered by empty tmpfs mounts. Without root, grading still works: the kernel runs as the instructor,
with the resource limits only, and `Isolation.describe()` says so.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
import pwd
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

from jupyter_client.manager import AsyncKernelManager
from traitlets import List, Unicode

JAIL = pathlib.Path(__file__).with_name("jail.py")
ROOT = pathlib.Path(__file__).resolve().parents[1]
# what the kernel needs to see even when it lies inside a hidden path: Python, the venv, the course's code
EXPOSE = sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), str(ROOT)})
USER_PREFIX = "initnorm-grader-"


@dataclass(frozen=True)
class Limits:
    """Per-submission limits; the defaults leave the course's exercises (< 30 s, < 1 GB) ample room."""

    cell_timeout: int = 120          # seconds a single cell may run before it is interrupted
    wall: int = 600                  # seconds for the whole submission, kernel start included
    memory_mb: int = 3072            # address-space limit of the kernel (allocations beyond it fail)
    output_kb: int = 2048            # outputs kept per submission; the rest is dropped and flagged
    nproc: int = 256                 # processes and threads of the slot's user (bounds a fork bomb)
    file_mb: int = 256               # largest file the kernel may write

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Isolation:
    user: str | None = None
    uid: int | None = None
    gid: int | None = None
    hide: list[str] = field(default_factory=list)
    namespaces: bool = False
    reason: str = ""

    def describe(self) -> str:
        if self.user and self.namespaces:
            return (f"student code runs as an unprivileged user per grading slot ({USER_PREFIX}N) in a private "
                    f"mount namespace; hidden: "
                    f"{', '.join(sorted(self.hide))}")
        if self.user:
            return f"student code runs as {USER_PREFIX}N; paths are NOT hidden ({self.reason})"
        return (f"NO user isolation ({self.reason}): student code runs as {pwd.getpwuid(os.getuid()).pw_name} and "
                "can read whatever you can read; only the resource limits apply")


def _ensure_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       check=True, capture_output=True)
        return pwd.getpwnam(name)


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
    return done.returncode == 0


_PROBED: dict[int, Isolation] = {}


def isolation_for_slot(slot: int, hide: list[str]) -> Isolation:
    """The strongest isolation this machine allows for grading slot `slot`, checked by starting Python in it."""
    if os.geteuid() != 0:
        return Isolation(reason="the grader is not running as root, so it cannot switch users")
    try:
        user = _ensure_user(f"{USER_PREFIX}{slot}")
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        return Isolation(reason=f"could not create a grading user: {exc}")
    if not _namespaces_work():
        iso = Isolation(user.pw_name, user.pw_uid, user.pw_gid, reason="mount namespaces are not available")
    else:
        iso = Isolation(user.pw_name, user.pw_uid, user.pw_gid, hide=sorted(set(hide)), namespaces=True)
    if slot not in _PROBED:
        probe = wrap_command(iso, Limits(), "/", [sys.executable, "-c", "import ipykernel, initnorm"])
        done = subprocess.run(probe, capture_output=True, text=True)
        _PROBED[slot] = iso if done.returncode == 0 else Isolation(
            reason=f"Python cannot start as {user.pw_name}: {done.stderr.strip()[-200:]}")
    probed = _PROBED[slot]
    return iso if probed.uid is not None else probed


def _processes_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except FileNotFoundError:
                continue
    return pids


def kill_user_processes(uid: int | None, patience: float = 10.0, reap: bool = False) -> list[int]:
    """SIGKILL every process of a slot user (what a fork bomb or a stray child leaves behind) and wait until
    they are gone: a killed process counts against the next kernel's process limit until it has been reaped.
    reap=True (in a worker made subreaper) also reaps them; the grader's main process must not (waitpid(-1)
    there would take the exit status of other workers). Returns the processes still there after `patience`
    seconds (normally none)."""
    if uid is None or uid == os.getuid():
        return []
    deadline = time.monotonic() + patience
    while True:
        pids = _processes_of(uid)
        if not pids or time.monotonic() > deadline:
            return pids
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
        if reap:
            _reap_orphans()


def _prctl(option: int, value: int) -> None:
    """Linux's prctl(2) on this process; elsewhere nothing."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def become_subreaper() -> None:
    """Orphans of the kernel (a fork bomb's children) get re-parented to this process instead of PID 1, which
    in a container may never reap them; kill_user_processes reaps them. Linux only; elsewhere nothing."""
    _prctl(36, 1)  # PR_SET_CHILD_SUBREAPER


def die_with_parent(parent_pid: int | None) -> bool:
    """Have the kernel SIGKILL this process when its parent dies (Linux), so that a grading run killed half way
    leaves no worker behind that would go on grading, and then clean up, as a slot user a new run uses too.
    False when the parent is already gone."""
    _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    return parent_pid is None or os.getppid() == parent_pid


@contextlib.contextmanager
def slot_users_lock(scratch_root: str):
    """One local grading run at a time per machine when grading runs as root: the slot users
    (initnorm-grader-N) are shared, and each submission ends by killing its slot user's processes."""
    if os.geteuid() != 0:
        yield
        return
    os.makedirs(scratch_root, exist_ok=True)
    with open(os.path.join(scratch_root, "run.lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another grading run on this machine to finish (lock {lock.name})",
                  file=sys.stderr, flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _reap_orphans() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class JailedKernelManager(AsyncKernelManager):
    """A KernelManager whose kernel command is wrapped by jail.py (and unshare), with its connection file
    in the scratch folder, readable by the slot user."""

    wrapper = List(Unicode())
    owner = List()  # [uid, gid] of the slot user, or empty

    def format_kernel_cmd(self, extra_arguments=None):
        return list(self.wrapper) + super().format_kernel_cmd(extra_arguments)

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        if self.owner:
            os.chown(self.connection_file, *self.owner)


def wrap_command(iso: Isolation, limits: Limits, cwd: str, command: list[str]) -> list[str]:
    """`command` run through jail.py (and unshare): hidden paths, limits, the slot user."""
    caps = [f"nproc={limits.nproc}"] if iso.uid is not None else []  # root ignores RLIMIT_NPROC anyway
    caps += [f"as={limits.memory_mb * 2**20}", f"fsize={limits.file_mb * 2**20}", "core=0"]
    jail = [sys.executable, str(JAIL), "--cwd", cwd]
    if iso.uid is not None:
        jail += ["--uid", str(iso.uid), "--gid", str(iso.gid)]
    for path in iso.hide:
        jail += ["--hide", path]
    for path in EXPOSE if iso.hide else []:
        jail += ["--expose", path]
    for cap in caps:
        jail += ["--limit", cap]
    unshare = ["unshare", "--mount", "--propagation", "private", "--"] if iso.namespaces else []
    return unshare + jail + ["--"] + command


def kernel_manager(scratch: pathlib.Path, iso: Isolation, limits: Limits) -> JailedKernelManager:
    km = JailedKernelManager(kernel_name="python3", wrapper=wrap_command(iso, limits, str(scratch), []),
                             owner=[iso.uid, iso.gid] if iso.uid is not None else [])
    km.connection_file = str(scratch / "kernel-connection.json")
    return km


def make_scratch(root: pathlib.Path, slot: int, iso: Isolation) -> pathlib.Path:
    """An empty scratch folder for one submission, owned by the slot user, mode 0700."""
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o711)
    scratch = root / f"slot{slot}"
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir()
    os.chmod(scratch, 0o700)
    if iso.uid is not None:
        os.chown(scratch, iso.uid, iso.gid)
    return scratch


def kernel_environment(scratch: pathlib.Path) -> dict[str, str]:
    """Environment of the kernel: a home in the scratch folder, so nothing is written elsewhere."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HOME=str(scratch), IPYTHONDIR=str(scratch / ".ipython"), MPLCONFIGDIR=str(scratch / ".mpl"),
               JUPYTER_RUNTIME_DIR=str(scratch / ".jupyter"), MPLBACKEND="module://matplotlib_inline.backend_inline",
               PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env
