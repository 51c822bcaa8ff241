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
import re
import signal
import struct

import pytest

import statebus as sb
from statebus import assertions

_ISOLATION = {}  # how the test's process (a forked child) was isolated
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


def _run_in_child(item, write_fd):
    from _pytest.runner import runtestprotocol
    status = 0
    try:
        reports = runtestprotocol(item, log=False, nextitem=None)
        hook = item.config.hook
        _send(write_fd, ([hook.pytest_report_to_serializable(config=item.config, report=r) for r in reports],
                         _ISOLATION.get("isolation")))
    except BaseException:  # noqa: B902  (the parent reports the child's end)
        import traceback
        traceback.print_exc()
        status = 3
    finally:
        os.close(write_fd)
        os._exit(status)


def _crash_report(item, status, stderr_tail):
    from _pytest.reports import TestReport
    how = sb.Child.describe_status(status)
    longrepr = (f"the test's process (forked for its private bus) ended with {how} before it reported"
                + (f"\n--- its stderr ---\n{stderr_tail}" if stderr_tail else ""))
    return TestReport(item.nodeid, item.location, {}, "failed", longrepr, "call", [], 0.0)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    if not _uses_bus(item):
        return None
    _keep_dir(item.config)
    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _run_in_child(item, write_fd)
    os.close(write_fd)
    try:
        reports = _receive(read_fd)
        _, status = os.waitpid(pid, 0)
    except BaseException:
        # Interrupted (Ctrl-C, a timeout in this process): the test's process goes too.
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(read_fd)
    if reports is None or status != 0:
        reports = [_crash_report(item, status, "")]
    else:
        reports, isolation = reports
        reports = [item.config.hook.pytest_report_from_serializable(config=item.config, data=r) for r in reports]
        if isolation == "shared_machine":
            # The test's process ended without its destructors (os._exit):
            # what its node left on the machine's bus goes now.
            sb.remove_stale_bus()
    for report in reports:
        ihook.pytest_runtest_logreport(report=report)
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    item.stash.setdefault(_REPORTS, {})[report.when] = report


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
        self.daemon = sb.Daemon.start()
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
        /usr/bin/python3). When the test ends, children still running are
        stopped (SIGTERM, then SIGKILL); a function child that raised, or any
        child that ended by a signal the test did not send or with a status
        other than 0, fails the test with its stderr (unless may_fail)."""
        if callable(what):
            child = sb.spawn_function(what, *args, **kwargs)
            name = label or what.__qualname__
        else:
            argv = list(what) if isinstance(what, (list, tuple)) else [what, *args]
            child = sb.spawn([str(a) for a in argv])
            name = label or os.path.basename(argv[0])
        self.children.append((name, child, may_fail))
        return child

    def stop(self):
        """Stops the children still running; returns what the test should fail
        for: a child that exited with a status other than 0 (a function child
        that raised exits with 1), unless it may fail. A child ended by a
        signal is not judged: the test may have sent it."""
        problems = []
        for name, child, may_fail in self.children:
            status = child.wait(timeout=0)
            if status is None:
                child.close_stdin()
                if child.wait(timeout=2) is None:
                    child.terminate(grace=2)
                continue  # stopped by the test's end: not its own failure
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0 and not may_fail:
                problems.append(f"child {name} (pid {child.pid}) ended with {sb.Child.describe_status(status)}"
                                f"\n--- its stderr ---\n{child.read_stderr(timeout=0.5)}")
        self.children.clear()
        return problems


@pytest.fixture
def bus(request):
    """A private bus for this test (a daemon of its own in this process, which
    pytest forked for the test) and this process's node on it (`bus.node`)."""
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
    recording = bus.node.record(patterns, mcap_path=f"/proc/self/fd/{keep_fd}/{file_name}")
    yield recording
    recording.stop()
    kept = os.path.join(keep_dir, file_name)
    if _failed(request.node) or request.config.getoption("statebus_keep_all"):
        request.node.add_report_section("teardown", "statebus recording", f"MCAP recording of the test: {kept}")
        print(f"\nstatebus: the test's recording is kept: {kept}")
    else:
        os.unlink(f"/proc/self/fd/{keep_fd}/{file_name}")


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
