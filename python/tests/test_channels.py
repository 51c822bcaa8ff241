"""Channels from Python: typed values by field name, the errors, and bytes
without a copy."""

import os
import sys

import numpy as np
import pytest

import statebus as sb

Reading = sb.Message("test/Reading", [("index", "uint64"), ("celsius", "float64"), ("room", "text[16]"),
                                      ("flags", "uint8[3]")])


def echo_readings(count):
    """A child: takes `count` readings and publishes each back doubled."""
    node = sb.connect("echo")
    sub = node.subscriber("test/in", Reading, lossless=True)
    pub = node.publisher("test/out", Reading)
    assert pub.wait_for_subscribers(timeout=10)
    print("ready", flush=True)
    for _ in range(count):
        sample = sub.take(timeout=10)
        assert sample is not None, "no reading within 10 s"
        value = sample.value
        pub.publish(value, celsius=value["celsius"] * 2)


def test_a_typed_value_crosses_to_another_process_and_back_field_by_field(bus, spawn):
    out = bus.node.subscriber("test/out", Reading, lossless=True)
    pub = bus.node.publisher("test/in", Reading)
    child = spawn(echo_readings, 3)
    assert child.read_line(timeout=10) == "ready"
    assert pub.wait_for_subscribers(timeout=10)
    for i in range(3):
        pub.publish(index=i, celsius=20.25 + i, room="kitchen", flags=[1, 2, i])
    got = [out.take(timeout=10) for _ in range(3)]
    assert [s.value for s in got] == [
        {"index": i, "celsius": (20.25 + i) * 2, "room": "kitchen", "flags": [1, 2, i]} for i in range(3)]
    assert [s.sequence for s in got] == [1, 2, 3]
    assert all(s.publisher_pid == child.pid for s in got)
    assert child.wait(timeout=10) == 0


def test_a_subscriber_without_a_type_decodes_by_the_schema_on_the_bus(bus):
    pub = bus.node.publisher("test/any", Reading)
    sub = bus.node.subscriber("test/any")
    assert sub.wait_connected(timeout=5)
    pub.publish({"index": 7, "room": "hall"})
    sample = sub.take(timeout=5)
    assert sample.value == {"index": 7, "celsius": 0.0, "room": "hall", "flags": [0, 0, 0]}
    assert bus.node.message_of("test/any") == Reading


def test_bad_values_names_and_types_are_errors_that_say_what_was_wrong(bus):
    pub = bus.node.publisher("test/bad", Reading)
    with pytest.raises(sb.Error) as unknown:
        pub.publish(colour=3)
    assert unknown.value.code == "invalid_argument" and "colour" in unknown.value.message
    with pytest.raises(sb.Error) as too_big:
        pub.publish(flags=[1, 2, 300])
    assert too_big.value.code == "invalid_argument" and "flags" in too_big.value.message
    with pytest.raises(sb.Error) as name:
        bus.node.publisher("no spaces/allowed", Reading)
    assert name.value.code == "invalid_argument"
    with pytest.raises(sb.Error) as kind:
        sb.Message("test/Bad", [("x", "float128")])
    assert "float128" in kind.value.message
    other = sb.Message("test/Other", [("x", "int32")])
    with pytest.raises(sb.Error) as mismatch:
        bus.node.publisher("test/bad", other)
    assert mismatch.value.code == "type_mismatch"
    assert pub.published == 0  # nothing went out


def connect_without_a_daemon():
    """A child: the daemon is gone, so connecting fails with no_daemon."""
    try:
        sb.connect("late", timeout=0.2)
    except sb.Error as e:
        assert e.code == "no_daemon", e.code
        assert "statebus daemon" in e.message, e.message
        return
    raise AssertionError("connected without a daemon")


def test_without_a_daemon_connect_fails_with_no_daemon(bus, spawn):
    bus.daemon.stop()
    with pytest.raises(sb.Error) as gone:
        bus.node.bus_health()
    assert gone.value.code == "no_daemon"
    assert spawn(connect_without_a_daemon).wait(timeout=20) == 0


def test_a_mebibyte_is_read_where_it_was_written_without_a_copy(bus):
    pub = bus.node.bytes_publisher("test/frame")
    sub = bus.node.bytes_subscriber("test/frame")
    assert sub.wait_connected(timeout=5)
    loan = pub.loan(1 << 20)
    written = np.frombuffer(loan.view, dtype=np.uint32)
    written[:] = np.arange(written.size, dtype=np.uint32)
    with pytest.raises(sb.Error) as in_use:
        loan.publish()  # the array still writes into the chunk
    assert "still in use" in in_use.value.message
    del written
    loan.publish()
    with pytest.raises(sb.Error):
        loan.view  # the memory belongs to the readers now
    sample = sub.take(timeout=5)
    read = np.frombuffer(sample.view, dtype=np.uint32)
    assert read.__array_interface__["data"][0] == sample.address  # the chunk itself, not a copy
    assert not read.flags.writeable
    assert np.array_equal(read, np.arange(read.size, dtype=np.uint32))
    view = sample.view
    del sample  # the view keeps the chunk
    assert view[4:8].tobytes() == (1).to_bytes(4, sys.byteorder)


def test_a_cell_is_updated_atomically_and_an_exception_stores_nothing(bus):
    Counter = sb.Message("test/Counter", [("count", "int64"), ("label", "text[8]")])
    cell = sb.cell("test/counter", Counter, {"label": "a"})
    assert cell.update(lambda v: {"count": v["count"] + 5}) == 2
    with pytest.raises(ZeroDivisionError):
        cell.update(lambda v: {"count": 1 // 0})
    assert cell.load() == {"count": 5, "label": "a"} and cell.version == 2
    assert sb.open_cell("test/counter").type == Counter
    with pytest.raises(sb.Error) as missing:
        sb.open_cell("test/nothing")
    assert missing.value.code == "not_found"


def test_a_blocking_take_lets_other_python_threads_run(bus):
    import threading
    pub = bus.node.publisher("test/gil", Reading)
    sub = bus.node.subscriber("test/gil", Reading)
    assert sub.wait_connected(timeout=5)
    taken = []
    taking = threading.Event()

    def take():
        taking.set()  # this thread holds the GIL until it enters take() (a switch waits 5 ms)
        taken.append(sub.take(timeout=30))

    waiter = threading.Thread(target=take)
    waiter.start()
    taking.wait()
    # Were the GIL held through the take, this thread could publish only
    # after the take gave up after 30 s with nothing.
    pub.publish(index=42)
    waiter.join()
    assert taken[0] is not None and taken[0].value["index"] == 42


def test_a_message_too_large_for_any_channel_is_refused_not_laid_out(bus):
    with pytest.raises(sb.Error) as huge:
        sb.Message("test/Huge", [(f"a{i}", "text[999999]") for i in range(4295)])
    assert huge.value.code == "invalid_argument" and "larger than" in huge.value.message


def test_a_strided_buffer_is_refused_not_read_past(bus):
    pub = bus.node.bytes_publisher("test/strided")
    data = bytearray(b"abcdefgh")
    with pytest.raises(BufferError):
        pub.publish(memoryview(data)[::2])
    with pytest.raises(BufferError):
        pub.publish(memoryview(data)[::-1])
    assert pub.publish(memoryview(data)[2:6]) == 1  # contiguous slices go


def test_non_finite_numbers_are_sent_as_such(bus):
    Level = sb.Message("test/Level", [("value", "float64"), ("other", "float32")])
    raw = Level.encode({"value": float("inf"), "other": float("nan")})
    import struct
    value, other = struct.unpack("=df4x", raw)
    assert value == float("inf") and other != other


def test_two_threads_updating_one_cell_lose_nothing_and_an_update_cannot_store_inside(bus):
    import threading
    Counter = sb.Message("test/Shared", [("n", "int64")])
    cell = sb.cell("test/shared", Counter)

    def add():
        for _ in range(2000):
            cell.update(lambda v: {"n": v["n"] + 1})

    threads = [threading.Thread(target=add) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "the updates deadlocked"
    assert cell.load()["n"] == 4000
    with pytest.raises(sb.Error) as inside:
        cell.update(lambda v: cell.store(n=1))
    assert "writer lock" in inside.value.message and cell.load()["n"] == 4000


def test_non_finite_numbers_are_read_as_such(bus):
    Level = sb.Message("test/Levels", [("value", "float64"), ("others", "float32[2]"), ("n", "int8")])
    back = Level.decode(Level.encode({"value": float("-inf"), "others": [float("nan"), 1.5], "n": -3}))
    assert back["value"] == float("-inf") and back["others"][0] != back["others"][0]
    assert back["others"][1] == 1.5 and back["n"] == -3


def test_a_signal_handler_ends_a_blocking_take_and_a_wait_for_a_child(bus, spawn):
    import signal

    class Interrupted(Exception):
        pass

    def interrupt(signum, frame):
        raise Interrupted()

    sub = bus.node.subscriber("test/quiet", Reading)
    sleeper = spawn(["/bin/sleep", "600"])
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        # Ctrl-C's KeyboardInterrupt comes the same way: from a handler.
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(Interrupted):
            sub.take(timeout=600)  # were it deaf to signals, pytest-timeout would end the test
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(Interrupted):
            sleeper.wait()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
