"""The heating demo's real C++ processes driven from pytest: readings
scripted from Python against the real controller on a stepped clock, and the
real sensor and controller together on a lockstep clock."""

import pytest

import statebus as sb
from statebus.assertions import assert_samples

from conftest import home_program

TEMPERATURE = "home/sensor/temperature"
HEATER = "home/actuator/heater"


def start_heating(spawn, recorder):
    heating = spawn(home_program("heating"), label="heating")
    assert heating.read_line(timeout=10) == "ready"
    assert recorder.wait_recording(HEATER, timeout=10)
    return heating


def decided(status, n):
    """Waits until the controller (another process) has decided on `n` readings."""
    while True:
        seen = status.version
        if status.load()["decisions"] >= n:
            return
        status.wait_for_change(seen, virtual_timeout=1)  # the clock stands: ends at its next store


@pytest.mark.record(HEATER)
@pytest.mark.stepped
def test_the_heater_switches_exactly_one_dwell_after_the_room_left_the_band(bus, clock, spawn, recorder, logs):
    start_heating(spawn, recorder)
    Reading = bus.node.message_of(TEMPERATURE, timeout=10)  # the C++ type, as the heating declared it
    assert Reading.name == "home/TemperatureReading"
    readings = bus.node.publisher(TEMPERATURE)
    assert readings.wait_for_subscribers(timeout=10)
    status = sb.open_cell("home/heating/status")

    def celsius(t):  # a dip shorter than the 10 s dwell, a longer one, then warmth
        if 30 <= t < 35 or 60 <= t < 200:
            return 19.0
        return 21.0 if t >= 200 else 20.0

    for t in range(300):
        if t:
            clock.advance(1)
        readings.publish(index=t, celsius=celsius(t), outside_celsius=5.0)
        decided(status, t + 1)

    # Its start state goes out as it starts (maybe before the recorder was
    # connected): the decisions are what this test is about.
    decisions = [s for s in recorder.samples(HEATER) if s.value["reading_index"] != 0]
    assert_samples(decisions, [{"on": True, "reading_index": 70, "celsius": 19.0},
                               {"on": False, "reading_index": 210, "celsius": 21.0}], at=[70, 210], what=HEATER)
    assert status.load()["switches"] == 2
    assert logs.wait_for("heater on at 19.00", process="heating", virtual_timeout=1)

    # The heating is an object in its own process: ask it what it will do, and why.
    plans = bus.node.client("home/heating/plan", timeout=10)
    plan = plans.call(timeout=10)
    assert plan["heater_on"] is False and plan["will_switch"] is False
    assert plan["reason"] == "heater off: 21.00 °C is not below 19.50 °C; on once below it for 10 s"
    what_if = plans.call(what_if=True, celsius=19.0, timeout=10)
    assert what_if["will_switch"] is True and what_if["switch_in_s"] == 10.0


def test_a_call_to_a_heating_that_died_says_its_server_is_gone(bus, spawn, recorder):
    heating = start_heating(spawn, recorder)
    plans = bus.node.client("home/heating/plan", timeout=10)
    assert plans.call(timeout=10)["heater_on"] is False
    assert plans.server_pid == heating.pid
    heating.signal(9)
    assert heating.wait(timeout=10) is not None
    with pytest.raises(sb.CallError) as gone:
        plans.call(timeout=10)
    assert gone.value.code in ("server_gone", "no_server"), gone.value.message
    assert isinstance(gone.value, sb.Error)


def runs_before(readings, k, outside):
    """Seconds of virtual time that readings[k] and those just before it have
    all been `outside` the band."""
    j = k
    while j > 0 and outside(readings[j - 1].value["celsius"]):
        j -= 1
    return (readings[k].virtual_ns - readings[j].virtual_ns) / 1e9


@pytest.mark.record(TEMPERATURE, HEATER)
@pytest.mark.lockstep
def test_with_the_real_sensor_each_switch_comes_exactly_one_dwell_after_the_room_left_the_band(
        bus, clock, spawn, recorder):
    start_heating(spawn, recorder)
    spawn(home_program("sensor"), label="sensor")
    # A virtual hour, as fast as the two processes run it.
    assert recorder.wait_for_count(TEMPERATURE, 3600, virtual_timeout=4000)
    setpoint = sb.open_cell("home/setpoint").load()
    low, high = setpoint["celsius"] - setpoint["band"], setpoint["celsius"] + setpoint["band"]
    readings = recorder.samples(TEMPERATURE)[:3600]
    by_index = {r.value["index"]: k for k, r in enumerate(readings)}
    switches = [c for c in recorder.samples(HEATER)
                if c.value["reading_index"] in by_index and c.value["reading_index"] != 0]
    assert len(switches) >= 2, f"the heater switched {len(switches)} times in the hour"
    for command in switches:
        k = by_index[command.value["reading_index"]]
        reading = readings[k]
        # Decided at the reading's own virtual instant, on its temperature ...
        assert command.virtual_ns == reading.virtual_ns
        assert command.value["celsius"] == reading.value["celsius"]
        # ... exactly one dwell (10 s) after the room left the band that way.
        if command.value["on"]:
            assert runs_before(readings, k, lambda c: c < low) == 10.0, (command, reading)
        else:
            assert runs_before(readings, k, lambda c: c > high) == 10.0, (command, reading)
