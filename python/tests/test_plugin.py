"""The pytest plugin itself, seen from outside: inner pytest sessions
(pytester, in fresh processes) whose outcomes and messages are checked."""

import os
import re

import pytest

HEADER = '''
import os, signal, pytest
import statebus as sb
from statebus.assertions import assert_recorded
Level = sb.Message("inner/Level", [("value", "int32")])
'''


def run(pytester, source, *args):
    pytester.makepyfile(test_inner=HEADER + source)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_each_bus_test_has_a_fresh_process_and_a_bus_of_its_own(pytester):
    result = run(pytester, '''
pids = []
@pytest.mark.parametrize("n", [1, 2])
def test_alone(bus, n):
    assert os.getpid() not in pids
    with pytest.raises(sb.Error) as missing:
        sb.open_cell("inner/mine")   # the other test's cell is on another bus
    assert missing.value.code == "not_found"
    sb.cell("inner/mine", Level, {"value": n})
    pids.append(os.getpid())
    print("test process", os.getpid(), "parent", os.getppid())
def test_without_a_bus_runs_in_pytests_process():
    assert not pids  # the bus tests' processes were forked: nothing of theirs is here
''', "-s")
    result.assert_outcomes(passed=3)
    processes = set(re.findall(r"test process (\d+)", result.stdout.str()))
    assert len(processes) == 2


def test_a_failed_test_keeps_its_recording_and_says_where(pytester):
    result = run(pytester, '''
def test_fails(bus, recorder):
    pub = bus.node.publisher("inner/level", Level)
    assert recorder.wait_recording("inner/level", timeout=10)
    pub.publish(value=1); pub.publish(value=2)
    assert recorder.wait_for_count("inner/level", 2, virtual_timeout=10)
    assert_recorded(recorder, "inner/level", [{"value": 1}, {"value": 3}])
def test_passes(bus, recorder):
    pass
''')
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    # The failure shows what was expected and what was recorded, with virtual times.
    assert "expected (2):" in out and "{'value': 3}" in out
    assert "recorded (2):" in out and re.search(r"#1\s+t\+\d+\.\d{6} s\s+pid \d+\s+\{'value': 1\}", out), out
    kept = re.findall(r"MCAP recording of the test: (\S+\.mcap)", out)
    assert len(kept) == 1 and "test_fails" in kept[0], out
    with open(kept[0], "rb") as f:
        assert f.read(8) == b"\x89MCAP0\r\n"
    assert os.listdir(os.path.dirname(kept[0])) == [os.path.basename(kept[0])]  # the passed test's is gone


def test_a_child_function_that_raises_fails_the_test_with_its_traceback(pytester):
    result = run(pytester, '''
def broken(x):
    raise RuntimeError(f"the sensor broke at {x}")
def test_spawns(bus, spawn):
    child = spawn(broken, 42)
    assert child.wait(timeout=30) is not None
''')
    result.assert_outcomes(passed=1, errors=1)
    out = result.stdout.str()
    assert "child broken" in out and "exit 1" in out
    assert "RuntimeError: the sensor broke at 42" in out


def test_a_test_whose_process_dies_fails_saying_how_and_the_session_goes_on(pytester):
    result = run(pytester, '''
def test_dies(bus):
    os.kill(os.getpid(), signal.SIGKILL)
def test_after(bus):
    assert sb.clock.status()["shared"]
''')
    result.assert_outcomes(passed=1, failed=1)
    assert "ended with SIGKILL" in result.stdout.str()


def test_markers_choose_the_clock_and_an_unexpected_error_record_fails_the_test(pytester):
    result = run(pytester, '''
@pytest.mark.stepped
def test_stepped(clock):
    assert clock.status()["mode"] == "stepped"
@pytest.mark.lockstep
def test_lockstep(clock):
    assert clock.status()["mode"] == "lockstep"
def test_real(clock):
    assert clock.status()["mode"] == "real"
def test_logs_an_error(bus, logs):
    logs.expect_error("expected trouble")
    sb.log("error", "expected trouble")
    sb.log("error", "the boiler exploded")
    assert logs.wait_for("boiler", level="error", virtual_timeout=10)
''')
    result.assert_outcomes(passed=4, errors=1)  # the call passed; its teardown found the error
    out = result.stdout.str()
    assert "unexpected error records in the log" in out and "the boiler exploded" in out
    assert "expected trouble" not in out.split("unexpected error records in the log")[1].split("\n")[1]
