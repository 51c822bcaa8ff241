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


def test_a_hung_test_fails_on_its_timeout_and_the_session_goes_on(pytester):
    result = run(pytester, '''
@pytest.mark.timeout(2)
@pytest.mark.stepped
def test_hangs(bus, clock):
    sb.clock.sleep(60)   # a stepped clock that nobody advances
def test_after(bus):
    pass
''')
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "Timeout" in out and "the test's process was stopped" in out
    assert "INTERNALERROR" not in out


def test_a_failure_found_at_teardown_keeps_the_recording_and_a_crashed_child_fails(pytester):
    result = run(pytester, '''
def raises():
    raise RuntimeError("late")
def crashes():
    os.kill(os.getpid(), signal.SIGSEGV)
def test_child_raises(bus, spawn, recorder):
    assert spawn(raises).wait(timeout=30) is not None
def test_child_crashes(bus, spawn):
    assert spawn(crashes).wait(timeout=30) is not None
def test_child_killed_by_the_test(bus, spawn):
    child = spawn(["/bin/sleep", "600"])
    child.signal(signal.SIGKILL)
    assert child.wait(timeout=30) is not None
''')
    result.assert_outcomes(passed=3, errors=2)
    out = result.stdout.str()
    kept = re.findall(r"MCAP recording of the test: (\S+\.mcap)", out)
    assert len(kept) == 1 and "test_child_raises" in kept[0] and os.path.exists(kept[0]), out
    assert "child crashes" in out and "SIGSEGV" in out
    assert "test_child_killed_by_the_test" not in out.split("short test summary")[1]


def test_children_a_dead_test_process_left_are_ended_and_wider_fixtures_stay_pytests(pytester, tmp_path):
    marker = tmp_path / "session-fixture"
    result = run(pytester, f'''
MARKER = {str(marker)!r}
@pytest.fixture(scope="session")
def resource():
    open(MARKER, "w").close()
    yield
    os.unlink(MARKER)
def test_first_in_pytests_process(resource):
    assert os.path.exists(MARKER)
def test_leaves_a_child_and_dies(bus, spawn, resource):
    child = spawn(["/bin/sleep", "600"])
    print("orphan", child.pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
def test_later(resource):
    assert os.path.exists(MARKER)   # the bus test's process did not tear it down
def test_dynamic(request):
    request.getfixturevalue("bus")
''', "-s")
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    assert "moves pytest's own process onto the bus" in out or "move pytest's own process onto the bus" in out
    pid = int(re.search(r"orphan (\d+)", out).group(1))
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert not marker.exists()  # torn down once, by pytest's process, at the session's end
