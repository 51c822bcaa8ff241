"""Assertions on recordings whose failures read well: the expected and the
recorded samples, each with its virtual time since the test's bus began."""

_origin_ns = 0


def set_origin(ns):
    """Virtual times in messages are shown from here (the `bus` fixture sets its start)."""
    global _origin_ns
    _origin_ns = ns


def show_time(ns):
    """A virtual time as `t+12.000000 s` since the origin."""
    return f"t+{(ns - _origin_ns) / 1e9:.6f} s"


def _matches(value, expected):
    if callable(expected):
        return bool(expected(value))
    if isinstance(expected, dict) and isinstance(value, dict):
        return all(k in value and _matches(value[k], v) for k, v in expected.items())
    if isinstance(expected, float) or isinstance(value, float):
        try:
            return abs(float(value) - float(expected)) <= 1e-9 * max(1.0, abs(float(expected)))
        except (TypeError, ValueError):
            return False
    return value == expected


def _listing(samples, limit=40):
    lines = [f"  #{s.sequence:<6} {show_time(s.virtual_ns):>18}  pid {s.publisher_pid:<7} {s.value}" for s in samples[:limit]]
    if len(samples) > limit:
        lines.append(f"  … and {len(samples) - limit} more")
    return "\n".join(lines) if lines else "  (none)"


def _at_ok(sample, at_s):
    return at_s is None or sample.virtual_ns - _origin_ns == round(at_s * 1e9)


def assert_samples(samples, expected, *, at=None, what="samples"):
    """`samples` (Sample objects) are exactly `expected`, in order: each
    expected entry is a dict of the fields that matter (other fields are not
    compared; a value may be a predicate), and `at`, if given, lists each
    one's virtual time in seconds since the bus began. The failure lists both,
    with the recorded samples' virtual times."""
    __tracebackhide__ = True
    times = list(at) if at is not None else [None] * len(expected)
    if len(times) != len(expected):
        raise ValueError(f"`at` gives {len(times)} times for {len(expected)} expected samples")
    ok = len(samples) == len(expected) and all(
        _matches(s.value, e) and _at_ok(s, t) for s, e, t in zip(samples, expected, times))
    if not ok:
        wanted = "\n".join(f"  {e}" + (f" at t+{t:.6f} s" if t is not None else "") for e, t in zip(expected, times))
        raise AssertionError(f"{what}: the recorded samples are not the expected ones\n"
                             f"expected ({len(expected)}):\n{wanted or '  (none)'}\n"
                             f"recorded ({len(samples)}):\n{_listing(samples)}")


def assert_recorded(recorder, channel, expected, *, at=None):
    """Every sample recorded on `channel` is as assert_samples() expects."""
    __tracebackhide__ = True
    assert_samples(recorder.samples(channel), expected, at=at, what=channel)


def expect_sample(recorder, channel, where, *, at=None, virtual_timeout):
    """Waits (on the bus's clock) for a sample of `channel` whose fields match
    `where` (a dict of fields, or a predicate of the value) and returns it; with
    `at` (seconds since the bus began), the first such sample must have been
    published exactly then. Fails listing what was recorded."""
    __tracebackhide__ = True
    sample = recorder.wait_for(channel, lambda s: _matches(s.value, where), virtual_timeout=virtual_timeout)
    if sample is None:
        raise AssertionError(f"{channel}: no sample matching {where} within {virtual_timeout} s of virtual time\n"
                             f"recorded ({recorder.count(channel)}):\n{_listing(recorder.samples(channel))}")
    if not _at_ok(sample, at):
        raise AssertionError(f"{channel}: the first sample matching {where} came at {show_time(sample.virtual_ns)}, "
                             f"not at t+{at:.6f} s\nrecorded:\n{_listing(recorder.samples(channel))}")
    return sample
