"""The statebus pytest plugin: a private bus per test, in a process of its own.

iceoryx allows one runtime per process, initialised once, so every test that
uses the `bus` fixture (directly or through `clock`, `recorder`, `logs` or
`spawn`) runs in a child forked from pytest for it alone: the child moves
into private user and mount namespaces (fresh /tmp and /dev/shm: a bus of its
own, next to any other test and the machine's bus), starts the daemon, runs
the test's setup, call and teardown, and hands its reports back through a
pipe; the parent reports them as usual (with -n, each xdist worker forks so).
A child that dies (a crash, a kill) fails its test with how it ended. Where
no namespace can be made (or STATEBUS_ISOLATION=off) the test runs on the
machine's bus: skipped while a daemon not its own runs there, and what it
leaves is removed after it. Contract: python/README.md.
"""

import os
import pickle
import shutil
import tempfile
import re
import signal
import struct

import pytest

import statebus as sb
from statebus import assertions

_ISOLATION = {}  # how the test's process (a forked child) was isolated
_IN_TEST_PROCESS = {}  # set in a test's own process
_KEPT = []  # recordings this test's process kept
_RECORDING = pytest.StashKey()
_KEEP_FD = None  # the directory of kept recordings, opened before any test's namespace hides it
_KEEP_DIR = None


def pytest_addoption(parser):
    group = parser.getgroup("statebus")
    group.addoption("--statebus-recordings", metavar="DIR", default=None,
                    help="where the MCAP recording of a failed test is kept (default: pytest's basetemp/statebus)")
    group.addoption("--statebus-keep-all", action="store_true", default=False,
                    help="keep the recordings of passed tests too")


def pytest_configure(config):
    config.addinivalue_line("markers", "stepped: the test's bus clock is stepped: time moves only by clock.advance()")
    config.addinivalue_line("markers", "lockstep: the test's bus clock runs in lockstep: it jumps to the next timer "
                                       "of the bus's event loops as soon as all are idle")
    config.addinivalue_line("markers", "record(*patterns): the channels the `recorder` fixture records "
                                       "(default: every channel, the log included)")


def _keep_dir(config):
    """The directory for kept recordings, and a descriptor of it that still
    reaches it from inside a test's namespace (its /tmp is another one)."""
    global _KEEP_FD, _KEEP_DIR
    if _KEEP_FD is None:
        chosen = config.getoption("statebus_recordings")
        if chosen is None:
            chosen = os.path.join(str(config._tmp_path_factory.getbasetemp()), "statebus")
        os.makedirs(chosen, exist_ok=True)
        _KEEP_DIR = os.path.abspath(chosen)
        _KEEP_FD = os.open(_KEEP_DIR, os.O_RDONLY | os.O_DIRECTORY)
    return _KEEP_DIR, _KEEP_FD


# ---- a process per bus test -------------------------------------------------

def _uses_bus(item):
    return "bus" in getattr(item, "fixturenames", ())


def _send(fd, data):
    blob = pickle.dumps(data)
    view = memoryview(struct.pack("!Q", len(blob)) + blob)
    while view:
        view = view[os.write(fd, view):]


def _receive(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    data = b"".join(chunks)
    if len(data) < 8:
        return None
    (size,) = struct.unpack("!Q", data[:8])
    return pickle.loads(data[8:8 + size]) if len(data) >= 8 + size else None


def _run_in_child(item, write_fd, keep_set_up):
    """The test's process: runs the test's setup, call and teardown, sends
    the reports back, and ends without running pytest's exit handlers.
    Fixtures pytest's process had set up before the fork (`keep_set_up`, the
    deepest node of its setup stack) are left to it; the others are torn
    down here."""
    from _pytest.runner import runtestprotocol
    _IN_TEST_PROCESS["yes"] = True
    status = 0
    try:
        reports = runtestprotocol(item, log=False, nextitem=keep_set_up)
        hook = item.config.hook
        _send(write_fd, {"reports": [hook.pytest_report_to_serializable(config=item.config, report=r) for r in reports],
                         "isolation": _ISOLATION.get("isolation"), "kept": _KEPT})
    except BaseException:  # noqa: B902  (the parent reports the child's end)
        import traceback
        traceback.print_exc()
        status = 3
    finally:
        os.close(write_fd)
        os._exit(status)


def _die_with_parent():
    """The test's process ends if pytest's process dies (it would run on unseen)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _kill_group(pid):
    """Ends whatever the test's process group still holds (children it left)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _captured(item):
    capman = item.config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        return ""
    try:
        out, err = capman.read_global_capture()
    except Exception:  # noqa: BLE001  (capture off or in another state: nothing to add)
        return ""
    return "".join(f"\n--- its {name} ---\n{text[-8000:]}" for name, text in (("stdout", out), ("stderr", err)) if text)


def _failed_report(item, when, text):
    from _pytest.reports import TestReport
    return TestReport(item.nodeid, item.location, {}, "failed", text, when, [], 0.0)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    if not _uses_bus(item):
        return None
    _keep_dir(item.config)
    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    set_up = list(item.session._setupstate.stack)  # what pytest's process has set up: its own to keep
    keep_set_up = set_up[-1] if set_up else None
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        os.setpgid(0, 0)  # a process group of its own: its children are in it too
        _die_with_parent()
        _run_in_child(item, write_fd, keep_set_up)
    os.close(write_fd)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # it did so itself already
    payload, status, stopped = None, None, None
    try:
        payload = _receive(read_fd)
        _, status = os.waitpid(pid, 0)
    except KeyboardInterrupt:
        _kill_group(pid)
        os.waitpid(pid, 0)
        raise
    except BaseException as interruption:  # noqa: B902  (pytest-timeout's alarm fails the test here)
        stopped = interruption
        # faulthandler (pytest enables it) prints the stuck process's Python stacks on SIGABRT.
        os.kill(pid, signal.SIGABRT)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(read_fd)
        _kill_group(pid)
    if stopped is not None:
        reports = [_failed_report(item, "call", f"{stopped}: the test's process was stopped (SIGABRT: its Python "
                                                f"stacks are printed above){_captured(item)}")]
    elif payload is None or status != 0:
        reports = [_failed_report(item, "call",
                                  f"the test's process (forked for its private bus) ended with "
                                  f"{sb.Child.describe_status(status)} before it reported{_captured(item)}")]
    else:
        reports = [item.config.hook.pytest_report_from_serializable(config=item.config, data=r)
                   for r in payload["reports"]]
        if payload["isolation"] == "shared_machine":
            # The test's process ended without its destructors (os._exit):
            # what its node left on the machine's bus goes now.
            sb.remove_stale_bus()
        for kept in payload["kept"]:
            for report in reports:
                if report.failed:
                    report.sections.append(("statebus recording", f"MCAP recording of the test: {kept}"))
            terminal = item.config.pluginmanager.get_plugin("terminalreporter")
            if terminal is not None and not any(r.failed for r in reports):  # kept by --statebus-keep-all
                terminal.write_line(f"statebus: the test's recording is kept: {kept}")
    for report in reports:
        ihook.pytest_runtest_logreport(report=report)
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    recording = item.stash.get(_RECORDING, None)
    if report.when == "teardown" and recording is not None:
        # Decided once every phase is in: a failure found in teardown (a
        # child that raised, an error in the log) keeps it too.
        kept, through_fd = recording
        if _failed(item) or item.config.getoption("statebus_keep_all"):
            _KEPT.append(kept)
        else:
            os.unlink(through_fd)


_REPORTS = pytest.StashKey()


def _failed(item):
    return any(r.failed for r in item.stash.get(_REPORTS, {}).values())


# ---- fixtures ---------------------------------------------------------------

def _node_name(item):
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", item.name).strip("-") or "test"
    return name[:56] + "-" + format(os.getpid() % 0x10000, "04x")


class Bus:
    """The test's private bus: its daemon, this process's node, the children
    started on it (stopped when the test ends), and the virtual time it began."""

    def __init__(self, item, isolation):
        self.isolation = isolation
        try:
            self.daemon = sb.Daemon.start()
        except sb.Error as e:
            if e.code == "already_running" and isolation == "shared_machine":
                pytest.skip(f"this test shares the machine's bus ({sb.isolation_reason()}), where another test or "
                            f"process started a daemon meanwhile: {e.message}")
            raise
        self._stderr_dir = tempfile.mkdtemp(prefix="statebus-children-")
        self.node = sb.connect(_node_name(item))
        self.node.log_to_bus(self.node.name)
        self.children = []  # (label, Child, expected_to_fail)
        if item.get_closest_marker("stepped"):
            sb.clock.set_stepped()
        elif item.get_closest_marker("lockstep"):
            sb.clock.set_lockstep()
        self.t0_ns = sb.clock.now_ns()
        assertions.set_origin(self.t0_ns)

    def spawn(self, what, *args, label=None, may_fail=False, **kwargs):
        """Starts a child on this bus: an executable (a list argv, or a path
        and its arguments) or a Python function (importable, run in a fresh
        /usr/bin/python3). Its stdout is a pipe the test reads (read_line);
        its stderr goes to a file, shown when it fails. When the test ends,
        children still running are stopped (stdin closed, then SIGTERM,
        SIGKILL); one that exited with a status other than 0 (a function that
        raised) or crashed fails the test (see stop()), unless may_fail."""
        name = label or (what.__qualname__ if callable(what) else
                         os.path.basename(str(what[0] if isinstance(what, (list, tuple)) else what)))
        # stderr into a file (a pipe nobody reads would fill and stop the child); shown when it fails.
        stderr_path = os.path.join(self._stderr_dir, f"{len(self.children)}-{name}.stderr")
        if callable(what):
            child = sb.spawn_function(what, *args, stderr_path=stderr_path, **kwargs)
        else:
            argv = list(what) if isinstance(what, (list, tuple)) else [what, *args]
            child = sb.spawn([str(a) for a in argv], stderr_path=stderr_path)
        self.children.append((name, child, may_fail, stderr_path))
        return child

    def stop(self):
        """Stops the children still running; returns what the test should fail
        for: a child that exited with a status other than 0 (a function child
        that raised exits with 1) or crashed (SIGSEGV, SIGABRT, SIGBUS,
        SIGFPE, SIGILL), unless it may fail. A child ended by another signal
        is not judged: the test may have sent it (SIGKILL, SIGTERM)."""
        crashes = {signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGFPE, signal.SIGILL}
        problems = []
        for name, child, may_fail, stderr_path in self.children:
            status = child.wait(timeout=0)
            if status is None:
                child.close_stdin()
                if child.wait(timeout=2) is None:
                    child.terminate(grace=2)
                continue  # stopped by the test's end: not its own failure
            failed = (os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0) or \
                (os.WIFSIGNALED(status) and os.WTERMSIG(status) in crashes)
            if failed and not may_fail:
                with open(stderr_path, errors="replace") as f:
                    tail = f.read()[-8000:]
                problems.append(f"child {name} (pid {child.pid}) ended with {sb.Child.describe_status(status)}"
                                f"\n--- its stderr ---\n{tail}")
        self.children.clear()
        shutil.rmtree(self._stderr_dir, ignore_errors=True)
        return problems


@pytest.fixture
def bus(request):
    """A private bus for this test (a daemon of its own in this process, which
    pytest forked for the test) and this process's node on it (`bus.node`)."""
    if not _IN_TEST_PROCESS:
        pytest.fail("the `bus` fixture is for a test that names it (or a fixture that does) in its arguments: "
                    "requested later (request.getfixturevalue), it would move pytest's own process onto the bus",
                    pytrace=False)
    isolation = sb.isolate_bus()
    _ISOLATION["isolation"] = isolation
    if isolation == "shared_machine":
        live = sb.find_daemon_pid()
        if live is not None and live != os.getpid():
            pytest.skip(f"this test shares the machine's bus ({sb.isolation_reason()}), and a statebus daemon that "
                        f"is not this test's (pid {live}) runs there: stop it, or allow namespaces, and run again")
    the_bus = Bus(request.node, isolation)
    yield the_bus
    problems = the_bus.stop()
    the_bus.daemon.stop()
    if isolation == "shared_machine":
        sb.remove_stale_bus()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def clock(bus):
    """The bus's virtual clock (statebus.clock), in the mode the test's marker
    asks for: @pytest.mark.stepped, @pytest.mark.lockstep, or real time."""
    return sb.clock


@pytest.fixture
def spawn(bus):
    """spawn(argv or function, *args): a child on the test's bus (Bus.spawn)."""
    return bus.spawn


@pytest.fixture
def recorder(request, bus):
    """A recorder of the test's channels (every one, or @pytest.mark.record(...)),
    also to MCAP: kept, and its path printed, when the test fails."""
    marker = request.node.get_closest_marker("record")
    patterns = list(marker.args) if marker and marker.args else ["**"]
    keep_dir, keep_fd = _keep_dir(request.config)
    file_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:] + ".mcap"
    # Through the descriptor: the test's own /tmp is another one.
    through_fd = f"/proc/self/fd/{keep_fd}/{file_name}"
    recording = bus.node.record(patterns, mcap_path=through_fd)
    # Kept or removed once the test's last phase is in (pytest_runtest_makereport).
    request.node.stash[_RECORDING] = (os.path.join(keep_dir, file_name), through_fd)
    yield recording
    recording.stop()


class Logs:
    """The log records of every process on the test's bus. Error and critical
    records no expect_error() pattern matches fail the test at its end."""

    def __init__(self, node):
        self._recorder = node.record(["statebus/log"])
        self._expected = []

    def expect_error(self, pattern):
        """Error and critical records whose text matches `pattern` (a regex) are part of the test."""
        self._expected.append(re.compile(pattern))

    def wait_for(self, pattern, *, level="info", process=None, virtual_timeout):
        """The first record of at least `level` whose text matches `pattern`, or None."""
        return self._recorder.wait_for_log(pattern, level=level, process=process, virtual_timeout=virtual_timeout)

    def entries(self):
        return self._recorder.logs()

    def unexpected_errors(self):
        return [e for e in self.entries() if e["level"] in ("error", "critical")
                and not any(p.search(e["text"]) for p in self._expected)]

    def _stop(self):
        errors = self.unexpected_errors()
        self._recorder.stop()
        return errors


@pytest.fixture
def logs(bus):
    """Log capture across the test's processes (Logs): wait for records, and
    fail on unexpected errors."""
    capture = Logs(bus.node)
    yield capture
    errors = capture._stop()
    if errors:
        lines = "\n".join(f"  {assertions.show_time(e['virtual_ns'])} {e['process']} (pid {e['pid']}) "
                          f"[{e['level']}] {e['text']}" for e in errors)
        pytest.fail(f"unexpected error records in the log:\n{lines}", pytrace=False)
