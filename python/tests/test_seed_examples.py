"""The examples of the blog post that started statebus ("Testing while
multiprocessing? Impossible? Nope!"), in Python on the bus: shared state
from several processes, the log of every process captured, the hardware
layer's calls recorded and asserted, and a 30-minute wait tested in
milliseconds of real time."""

import pytest

import statebus as sb
from statebus.assertions import assert_recorded, expect_sample

Counter = sb.Message("seed/Counter", [("count", "int64"), ("last_worker", "int32")])
Relay = sb.Message("seed/Relay", [("on", "bool"), ("channel", "uint8")])
Done = sb.Message("seed/Done", [("waited_s", "float64")])


def add_to_the_counter(worker, times):
    """A child: increments the shared counter `times` times."""
    cell = sb.open_cell("seed/counter")
    for _ in range(times):
        cell.update(lambda v: {"count": v["count"] + 1, "last_worker": worker})


def test_state_shared_by_four_processes_loses_no_update(bus, spawn):
    counter = sb.cell("seed/counter", Counter)
    children = [spawn(add_to_the_counter, worker, 250) for worker in range(4)]
    assert [child.wait(timeout=60) for child in children] == [0, 0, 0, 0]
    assert counter.load()["count"] == 1000
    assert counter.version == 1001  # creation, then one store per update
    assert counter.load()["last_worker"] in range(4)


def log_a_story(name):
    """A child: logs to the bus under its own name."""
    node = sb.connect(name)
    node.log_to_bus()
    sb.log("info", f"{name} starts")
    sb.log("error", f"{name}: the text is too long to print")
    sb.log("info", f"{name} ends")


def test_the_log_of_every_process_is_captured_in_the_test(bus, spawn, logs):
    logs.expect_error("too long to print")
    for name in ("printer-a", "printer-b"):
        spawn(log_a_story, name)
    for name in ("printer-a", "printer-b"):
        assert logs.wait_for(f"{name} ends", process=name, virtual_timeout=10) is not None
    sb.log("info", "the test's own record")
    assert logs.wait_for("the test's own record", process=bus.node.name, virtual_timeout=10)
    errors = [e for e in logs.entries() if e["level"] == "error"]
    assert sorted(e["process"] for e in errors) == ["printer-a", "printer-b"]
    assert logs.unexpected_errors() == []


def blink(times):
    """The code under test, in its own process: switches relay 3 on and off
    every 10 s of the bus's clock through the hardware layer (a channel),
    on a schedule of absolute times, as a controller should."""
    node = sb.connect("blinker")
    relay = node.publisher("hw/relay", Relay)
    relay.wait_for_subscribers(timeout=10)
    start = sb.clock.now_ns()
    for i in range(times):
        sb.clock.sleep_until(start + i * 10_000_000_000)
        relay.publish(on=(i % 2 == 0), channel=3)


@pytest.mark.record("hw/relay")
@pytest.mark.stepped
def test_the_hardware_layers_calls_are_recorded_with_their_virtual_times(bus, clock, spawn, recorder):
    blinker = spawn(blink, 4)
    for call in range(1, 5):
        # The clock stands between steps: the call comes at the step's time.
        assert recorder.wait_for_count("hw/relay", call, virtual_timeout=1)
        clock.advance(10)
    assert blinker.wait(timeout=10) == 0
    assert_recorded(recorder, "hw/relay",
                    [{"on": True, "channel": 3}, {"on": False}, {"on": True}, {"on": False}],
                    at=[0, 10, 20, 30])


def wait_thirty_minutes():
    """The slow process: acts 30 minutes after it started."""
    node = sb.connect("waiter")
    done = node.publisher("seed/done", Done)
    done.wait_for_subscribers(timeout=10)
    start = sb.clock.now_ns()
    print("waiting", flush=True)
    sb.clock.sleep_until(start + 30 * 60 * 1_000_000_000)
    done.publish(waited_s=(sb.clock.now_ns() - start) / 1e9)


@pytest.mark.record("seed/done")
@pytest.mark.stepped
def test_a_thirty_minute_wait_is_tested_in_milliseconds(bus, clock, spawn, recorder):
    waiter = spawn(wait_thirty_minutes)
    assert waiter.read_line(timeout=10) == "waiting"
    clock.advance(29 * 60 + 59)
    clock.advance(1)
    sample = expect_sample(recorder, "seed/done", {"waited_s": 1800.0}, at=1800, virtual_timeout=1)
    assert sample.publisher_pid == waiter.pid
    assert waiter.wait(timeout=10) == 0
