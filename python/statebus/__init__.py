"""statebus from Python: channels, cells, the virtual clock, the recorder and
child processes on a statebus bus (python/README.md). The pytest plugin is
statebus.pytest_plugin."""

import datetime as _datetime
import os as _os
import pickle as _pickle
import sys as _sys

from ._statebus import (  # noqa: F401  (the public API)
    BytesLoan,
    BytesPublisher,
    BytesSample,
    BytesSubscriber,
    CallError,
    Cell,
    Child,
    Client,
    Daemon,
    Error,
    Message,
    Node,
    Publisher,
    Recorder,
    Sample,
    Subscriber,
    cell,
    clock,
    connect,
    find_daemon_pid,
    isolate_bus,
    isolation_reason,
    log,
    open_cell,
    remove_stale_bus,
    spawn,
)

PYTHON = "/usr/bin/python3"  # the interpreter the module is built for


def _error(code, message):
    """A statebus.Error raised from Python, as the module raises them."""
    error = Error(message)
    error.code = code
    error.message = message
    return error


def _seconds(value):
    if isinstance(value, _datetime.timedelta):
        return value.total_seconds()
    return float(value)


def _wait_for(self, channel, predicate, *, virtual_timeout):
    """The first sample of `channel` (captured before or during the call) for
    which predicate(sample) is true, or None once the bus's clock passed now +
    virtual_timeout. The predicate runs in the calling thread: what it raises
    reaches the caller."""
    if _seconds(virtual_timeout) < 0:
        raise _error("invalid_argument", f"virtual_timeout must be 0 or more seconds, not {virtual_timeout}")
    deadline = clock.now_ns() + int(_seconds(virtual_timeout) * 1e9)
    looked = 0
    while True:
        for sample in self.samples(channel, start=looked):  # each sample is converted once
            if predicate(sample):
                return sample
            looked += 1
        left = deadline - clock.now_ns()
        if left < 0 or not self.wait_for_count(channel, looked + 1, virtual_timeout=max(left, 0) / 1e9):
            for sample in self.samples(channel, start=looked):
                if predicate(sample):
                    return sample
            return None


Recorder.wait_for = _wait_for


def spawn_function(function, *args, stderr_path=None, **kwargs):
    """Runs function(*args, **kwargs) in a fresh /usr/bin/python3 on this
    process's bus (a child of this process: the same private bus). The
    function must be importable by its module and name (defined at the top
    level of a module, not a lambda); the arguments must pickle. The child
    exits 0 when it returns; when it raises, it prints the traceback on
    stderr and exits 1, which Child.wait() and the pytest plugin's `spawn`
    fixture report."""
    module = function.__module__
    if module == "__main__" or "<locals>" in function.__qualname__ or function.__name__ == "<lambda>":
        raise _error("invalid_argument", f"spawn_function needs a function defined at the top level of an importable module, "
                    f"not {function.__qualname__} in {module}")
    payload = _pickle.dumps((module, function.__qualname__, args, kwargs)).hex()
    env_path = _os.pathsep.join(p for p in _sys.path if p)
    return spawn(["/usr/bin/env", f"PYTHONPATH={env_path}", PYTHON, "-m", "statebus._child", payload],
                 stderr_path=stderr_path)
