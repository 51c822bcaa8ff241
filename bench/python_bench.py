#!/usr/bin/python3
"""Round trips from Python, in one run on a private bus of its own: the
statebus module (typed 64 B, bytes 64 B, zero copy at 64 B and 1 MiB, and
1 MiB copied) beside the same round trip in C++ (pingpong_bench's
round_trip/64B/block, run as a subprocess) and beside pyzmq (PAIR over
ipc://). The ping runs here on CPU 0; each echo is this script again
(--echo ROLE) on CPU 1, as pingpong_bench pins its leader and follower.
Then one publish plus one take in this process, beside publish_take_bench's
statebus_publish_take: the binding calls' own cost, without the wake-ups
that dominate (and blur) a blocking round trip on a small VM.

    PYTHONPATH=build/release/python /usr/bin/python3 bench/python_bench.py \
        [--quick] [--json OUT] [--build-dir build/release]

Exits 0 when every case produced figures and the zero-copy checks held
(the echo's numpy array lies at BytesSample.address; no take of a 1 MiB
zero-copy sample allocated more than 64 KiB, while the copying variant
did, which shows the check sees a copy); 1 otherwise; 77 when it cannot
have a bus of its own and a daemon it did not start runs on the machine's.
Timings are reported, never judged: a slow machine fails nothing.
"""

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc

import statebus as sb

STOP = 2**64 - 1  # the sequence number that ends an echo
TAKE_TIMEOUT = 5.0  # seconds the ping waits for one answer
ECHO_PATIENCE = 120.0  # seconds an echo waits for the next ping (pingpong_bench runs between rounds)
BINDING_CALLS = 4  # per round trip: publish and take on each side
LEADER_CPU = 0
FOLLOWER_CPU = 1
MIB = 1 << 20
TRACED_TAKES = 200  # takes each zero-copy echo traces with tracemalloc
COPY_LIMIT = 64 * 1024  # a zero-copy take allocating more than this copied

Ping = sb.Message("bench/Ping", [("seq", "uint64"), ("payload", "uint8[56]")])


def pin(cpu):
    """Pins the calling thread (threads it starts later inherit it)."""
    if os.cpu_count() and os.cpu_count() > cpu:
        os.sched_setaffinity(0, {cpu})


def say(line):
    """A line to the ping, on this echo's stdout."""
    print(line, flush=True)


# ---- echoes: this script again, one process per case ----------------------


def next_ping(take, who):
    """take(timeout=1.0) until it gives something; ends this echo once its
    ping is gone or after ECHO_PATIENCE seconds of nothing."""
    parent = os.getppid()
    deadline = time.monotonic() + ECHO_PATIENCE
    while True:
        sample = take(timeout=1.0)
        if sample is not None:
            return sample
        if os.getppid() != parent or time.monotonic() > deadline:
            raise SystemExit("%s: no ping within %.0f s, or the ping is gone" % (who, ECHO_PATIENCE))


def echo_typed(prefix):
    node = sb.connect("echo-typed")
    sub = node.subscriber(prefix + "/ping", Ping)
    pub = node.publisher(prefix + "/pong", Ping)
    pub.wait_for_subscribers(timeout=10.0)
    pin(FOLLOWER_CPU)
    say("ready")
    while True:
        sample = next_ping(sub.take, "echo-typed")
        seq = sample.value["seq"]
        pub.publish(seq=seq)
        if seq == STOP:
            return {}


def echo_bytes(prefix):
    node = sb.connect("echo-bytes")
    sub = node.bytes_subscriber(prefix + "/ping")
    pub = node.bytes_publisher(prefix + "/pong")
    pub.wait_for_subscribers(timeout=10.0)
    pin(FOLLOWER_CPU)
    say("ready")
    while True:
        sample = next_ping(sub.take, "echo-bytes")
        view = sample.view
        (seq,) = struct.unpack_from("<Q", view)
        pub.publish(view)  # copies the 64 bytes into a chunk of its own
        del view, sample
        if seq == STOP:
            return {}


def echo_zero_copy(prefix, copy):
    """Takes a loaned payload and reads its sequence number in place through
    numpy (or, with `copy`, from bytes(sample.view)); answers with 8 bytes.
    The first TRACED_TAKES takes run under tracemalloc: the most any take
    allocated, and whether numpy's array lies at the chunk's address."""
    import numpy as np

    node = sb.connect("echo" + prefix.replace("/", "-"))
    sub = node.bytes_subscriber(prefix + "/ping")
    pub = node.bytes_publisher(prefix + "/pong")
    pub.wait_for_subscribers(timeout=10.0)
    pin(FOLLOWER_CPU)
    say("ready")
    checked = 0
    at_chunk = 0
    max_take_alloc = 0
    rss_before = None
    size = 0
    tracemalloc.start()
    while True:
        traced = checked < TRACED_TAKES
        if traced:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
        sample = next_ping(sub.take, "echo-zero-copy")
        if copy:
            data = bytes(sample.view)
            seq = int(np.frombuffer(data, dtype=np.uint64, count=1)[0])
        else:
            array = np.frombuffer(sample.view, dtype=np.uint64, count=1)
            seq = int(array[0])
        if traced:
            max_take_alloc = max(max_take_alloc, tracemalloc.get_traced_memory()[1] - base)
            if not copy:
                at_chunk += array.__array_interface__["data"][0] == sample.address
            size = sample.size
            checked += 1
            if checked == TRACED_TAKES:
                tracemalloc.stop()
                rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if copy:
            pub.publish(memoryview(data)[:8])
            del data
        else:
            del array
            pub.publish(sample.view[:8])
        del sample
        if seq == STOP:
            break
    if tracemalloc.is_tracing():
        tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "size": size,
        "traced_takes": checked,
        "array_at_chunk": at_chunk,
        "max_take_alloc_bytes": max_take_alloc,
        "max_rss_growth_kib": (rss_after - rss_before) if rss_before is not None else None,
    }


def echo_zmq(address):
    import zmq

    context = zmq.Context()
    sock = context.socket(zmq.PAIR)
    sock.connect(address)  # its I/O thread starts here, before the pinning: not on CPU 1 only
    pin(FOLLOWER_CPU)
    say("ready")
    while True:
        next_ping(lambda timeout: sock.poll(int(timeout * 1000)) or None, "echo-zmq")
        message = sock.recv()
        sock.send(message)
        if message[:8] == b"\xff" * 8:
            sock.close()
            context.term()
            return {}


def echo_main(role, where):
    if role == "typed":
        result = echo_typed(where)
    elif role == "bytes":
        result = echo_bytes(where)
    elif role == "zero-copy":
        result = echo_zero_copy(where, copy=False)
    elif role == "copy":
        result = echo_zero_copy(where, copy=True)
    elif role == "zmq":
        result = echo_zmq(where)
    else:
        raise SystemExit("python_bench: unknown echo role %r" % role)
    say("result " + json.dumps(result))


# ---- the ping side: one class per case ------------------------------------


class Echo:
    """An echo process: this script with --echo ROLE WHERE."""

    def __init__(self, role, where):
        self.role = role
        self.child = sb.spawn([sb.PYTHON, os.path.abspath(__file__), "--echo", role, where])
        line = self.child.read_line(timeout=20.0)
        if line != "ready":
            raise RuntimeError("the %s echo is not ready (it said %r; stderr: %s)"
                               % (role, line, self.child.read_stderr(timeout=1.0)))

    def finish(self):
        """Its result, once it ended after the stop message."""
        line = self.child.read_line(timeout=20.0)
        status = self.child.wait(timeout=20.0)
        if line is None or not line.startswith("result "):
            raise RuntimeError("the %s echo ended without a result (%r, %s; stderr: %s)"
                               % (self.role, line, status, self.child.read_stderr(timeout=1.0)))
        return json.loads(line[len("result "):])


class TypedCase:
    label = "Python statebus, typed 64 B"

    def __init__(self, node, prefix):
        self.pub = node.publisher(prefix + "/ping", Ping)
        self.sub = node.subscriber(prefix + "/pong", Ping)
        self.echo = Echo("typed", prefix)
        if not self.pub.wait_for_subscribers(timeout=10.0):
            raise RuntimeError("the typed echo did not subscribe")

    def run(self, first, count, out):
        pub, sub, clock = self.pub, self.sub, time.perf_counter_ns
        for seq in range(first, first + count):
            start = clock()
            pub.publish(seq=seq)
            sample = sub.take(timeout=TAKE_TIMEOUT)
            end = clock()
            if sample is None or sample.value["seq"] != seq:
                raise RuntimeError("%s: round trip %d came back as %r" % (self.label, seq, sample))
            out.append(end - start)

    def stop(self):
        self.pub.publish(seq=STOP)
        self.sub.take(timeout=TAKE_TIMEOUT)
        return self.echo.finish()


class BytesCase:
    label = "Python statebus, bytes 64 B (copied)"

    def __init__(self, node, prefix):
        self.pub = node.bytes_publisher(prefix + "/ping")
        self.sub = node.bytes_subscriber(prefix + "/pong")
        self.echo = Echo("bytes", prefix)
        if not self.pub.wait_for_subscribers(timeout=10.0):
            raise RuntimeError("the bytes echo did not subscribe")
        self.data = bytearray(64)

    def run(self, first, count, out):
        pub, sub, clock, data = self.pub, self.sub, time.perf_counter_ns, self.data
        for seq in range(first, first + count):
            struct.pack_into("<Q", data, 0, seq)
            start = clock()
            pub.publish(data)
            sample = sub.take(timeout=TAKE_TIMEOUT)
            end = clock()
            if sample is None or struct.unpack_from("<Q", sample.view)[0] != seq:
                raise RuntimeError("%s: round trip %d came back as %r" % (self.label, seq, sample))
            del sample
            out.append(end - start)

    def stop(self):
        struct.pack_into("<Q", self.data, 0, STOP)
        self.pub.publish(self.data)
        self.sub.take(timeout=TAKE_TIMEOUT)
        return self.echo.finish()


class LoanCase:
    """The ping loans `size` bytes, writes its sequence number into the first
    8 through the view and publishes; the echo reads it in place (or copies
    the payload first, with copy=True) and answers with 8 bytes."""

    def __init__(self, node, prefix, size, copy):
        self.size = size
        self.label = "Python statebus, loan %s%s" % (
            "1 MiB" if size == MIB else "%d B" % size, ", echo copies it" if copy else ", zero copy")
        self.pub = node.bytes_publisher(prefix + "/ping")
        self.sub = node.bytes_subscriber(prefix + "/pong")
        self.echo = Echo("copy" if copy else "zero-copy", prefix)
        if not self.pub.wait_for_subscribers(timeout=10.0):
            raise RuntimeError("the zero-copy echo did not subscribe")

    def send(self, seq):
        loan = self.pub.loan(self.size)
        struct.pack_into("<Q", loan.view, 0, seq)
        loan.publish()

    def run(self, first, count, out):
        pub, sub, clock, size = self.pub, self.sub, time.perf_counter_ns, self.size
        for seq in range(first, first + count):
            start = clock()
            loan = pub.loan(size)
            struct.pack_into("<Q", loan.view, 0, seq)
            loan.publish()
            sample = sub.take(timeout=TAKE_TIMEOUT)
            end = clock()
            if sample is None or struct.unpack_from("<Q", sample.view)[0] != seq:
                raise RuntimeError("%s: round trip %d came back as %r" % (self.label, seq, sample))
            del sample, loan
            out.append(end - start)

    def stop(self):
        self.send(STOP)
        self.sub.take(timeout=TAKE_TIMEOUT)
        return self.echo.finish()


class ZmqCase:
    label = "pyzmq PAIR ipc://, 64 B"

    def __init__(self, context, directory):
        import zmq

        self.sock = context.socket(zmq.PAIR)
        address = "ipc://" + os.path.join(directory, "pair")
        self.sock.bind(address)
        self.echo = Echo("zmq", address)
        self.data = bytearray(64)

    def run(self, first, count, out):
        sock, clock, data = self.sock, time.perf_counter_ns, self.data
        for seq in range(first, first + count):
            struct.pack_into("<Q", data, 0, seq)
            start = clock()
            sock.send(data)
            reply = sock.recv()
            end = clock()
            if struct.unpack_from("<Q", reply)[0] != seq:
                raise RuntimeError("%s: round trip %d came back as %r" % (self.label, seq, reply))
            out.append(end - start)

    def stop(self):
        struct.pack_into("<Q", self.data, 0, STOP)
        self.sock.send(self.data)
        if self.sock.poll(int(TAKE_TIMEOUT * 1000)):
            self.sock.recv()
        result = self.echo.finish()
        self.sock.close()
        return result


# ---- figures ---------------------------------------------------------------


def percentile(ordered, fraction):
    """Nearest rank, as bench/percentiles.hpp."""
    if not ordered:
        return 0.0
    rank = int(fraction * (len(ordered) - 1) + 0.5)
    return ordered[min(rank, len(ordered) - 1)]


def figures(samples_ns):
    ordered = sorted(ns / 1000.0 for ns in samples_ns)
    return {
        "p50": percentile(ordered, 0.50),
        "p99": percentile(ordered, 0.99),
        "p99.9": percentile(ordered, 0.999),
        "max": ordered[-1] if ordered else 0.0,
        "mean": sum(ordered) / len(ordered) if ordered else 0.0,
        "samples": len(ordered),
    }


def pingpong_command(build_dir):
    """pingpong_bench's round_trip/64B/block, one repetition: statebus and raw
    iceoryx interleaved, blocking, 64 B, leader on CPU 0 and follower on CPU
    1, 25 × 100 round trips of each."""
    binary = os.path.join(build_dir, "bench", "pingpong_bench")
    if not os.access(binary, os.X_OK):
        raise RuntimeError("no %s: build the target pingpong_bench, or give --build-dir" % binary)
    return [binary, "--benchmark_filter=^round_trip/64B/block/iterations", "--benchmark_format=json"]


def pingpong_run(command):
    """One run of `command`: its benchmark's entry (counters in µs)."""
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(command), run.returncode, run.stderr.strip()))
    try:
        report = json.loads(run.stdout)
    except ValueError:
        raise RuntimeError("%s printed no JSON: %s %s" % (" ".join(command), run.stdout[-500:], run.stderr[-500:]))
    runs = [b for b in report["benchmarks"]
            if b.get("run_type") == "iteration" and b["name"].startswith("round_trip/64B/block/iterations")]
    if len(runs) != 1 or runs[0].get("error_occurred") or not runs[0].get("samples"):
        raise RuntimeError("pingpong_bench measured nothing: %s" % run.stdout[-2000:])
    if runs[0].get("time_unit") != "us":
        raise RuntimeError("pingpong_bench reported its times in %s, not us" % runs[0].get("time_unit"))
    return runs[0]


def pingpong_figures(runs):
    """C++ statebus and raw iceoryx from the runs: the medians of the runs'
    percentile counters; the mean (statebus only) the mean of their manual
    times, which are the mean statebus round trip of each."""

    def median(values):
        values = sorted(values)
        middle = len(values) // 2
        return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2

    def side(prefix, mean):
        return {
            "p50": median(b[prefix + "p50"] for b in runs),
            "p99": median(b[prefix + "p99"] for b in runs),
            "p99.9": median(b[prefix + "p99.9"] for b in runs),
            "max": max(b[prefix + "max"] for b in runs),
            "mean": mean,
            "samples": int(sum(b["samples"] for b in runs)),
        }

    return side("statebus_us_", sum(b["real_time"] for b in runs) / len(runs)), side("iceoryx_us_", None)


def in_process(node, batches, per_batch):
    """One publish plus one take in this process (no other process, no
    wake-up): what the binding calls cost by themselves. The median over
    `batches` of the mean of `per_batch` publish + take, in µs."""
    typed_pub = node.publisher("bench/py-local-typed", Ping)
    typed_sub = node.subscriber("bench/py-local-typed", Ping)
    bytes_pub = node.bytes_publisher("bench/py-local-bytes")
    bytes_sub = node.bytes_subscriber("bench/py-local-bytes")
    loan_pub = node.bytes_publisher("bench/py-local-loan")
    loan_sub = node.bytes_subscriber("bench/py-local-loan")
    for pub in (typed_pub, bytes_pub, loan_pub):
        if not pub.wait_for_subscribers(timeout=10.0):
            raise RuntimeError("%s: no subscriber" % pub.channel)
    data = bytearray(64)

    def typed():
        typed_pub.publish(seq=1)
        return typed_sub.take()

    def raw():
        bytes_pub.publish(data)
        return bytes_sub.take()

    def loaned():
        loan = loan_pub.loan(64)
        struct.pack_into("<Q", loan.view, 0, 1)
        loan.publish()
        return loan_sub.take()

    cases = {"typed 64 B: publish(seq=) + take()": typed, "bytes 64 B: publish(data) + take()": raw,
             "bytes 64 B: loan() + write + publish() + take()": loaned}
    means = {label: [] for label in cases}
    clock = time.perf_counter_ns
    for _ in range(batches):
        for label, call in cases.items():
            if call() is None:
                raise RuntimeError("in process, %s took nothing" % label)
            start = clock()
            for _ in range(per_batch):
                call()
            means[label].append((clock() - start) / per_batch / 1000.0)
    return {label: sorted(m)[len(m) // 2] for label, m in means.items()}


def publish_take_cpp(build_dir, repetitions):
    """publish_take_bench's statebus_publish_take (a 64 B loan, publish,
    take, in one process): the median of its repetitions, in µs."""
    binary = os.path.join(build_dir, "bench", "publish_take_bench")
    if not os.access(binary, os.X_OK):
        raise RuntimeError("no %s: build the target publish_take_bench, or give --build-dir" % binary)
    command = [binary, "--benchmark_filter=^statebus_publish_take$", "--benchmark_format=json",
               "--benchmark_repetitions=%d" % repetitions]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    try:
        report = json.loads(run.stdout) if run.returncode == 0 else None
    except ValueError:
        report = None
    if report is None:
        raise RuntimeError("%s failed (%d): %s %s" % (" ".join(command), run.returncode, run.stdout[-500:],
                                                        run.stderr[-500:]))
    scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3}
    times = sorted(b["real_time"] * scale[b["time_unit"]] for b in report["benchmarks"]
                   if b.get("run_type") == "iteration" and not b.get("error_occurred"))
    if not times:
        raise RuntimeError("publish_take_bench measured nothing: %s" % run.stdout[-1000:])
    return times[len(times) // 2], " ".join(command)


def table(rows, reference):
    lines = ["| case | p50 µs | p99 µs | p99.9 µs | mean µs | samples | p50 / C++ statebus |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for label, f in rows:
        mean = "%.1f" % f["mean"] if f.get("mean") is not None else "–"
        lines.append("| %s | %.1f | %.1f | %.1f | %s | %d | %.2f |" % (
            label, f["p50"], f["p99"], f["p99.9"], mean, f["samples"], f["p50"] / reference["p50"]))
    return "\n".join(lines)


# ---- the run ---------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred round trips per case (a smoke run)")
    parser.add_argument("--json", metavar="OUT", help="also write the figures to OUT as JSON")
    parser.add_argument("--build-dir", default=None,
                        help="the build directory holding bench/pingpong_bench and bench/publish_take_bench "
                             "(default: the one whose python/statebus the module was loaded from)")
    parser.add_argument("--echo", nargs=2, metavar=("ROLE", "WHERE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo:
        return echo_main(*args.echo)

    build_dir = args.build_dir or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(sb.__file__))))
    for binary in ("pingpong_bench", "publish_take_bench"):
        if not os.access(os.path.join(build_dir, "bench", binary), os.X_OK):
            raise RuntimeError("no %s in %s/bench: build the target %s, or give --build-dir"
                               % (binary, build_dir, binary))
    # Opened before the private bus: its /tmp is a fresh one, which would
    # hide a file written there afterwards from everyone else.
    json_out = open(args.json, "w") if args.json else None
    isolation = sb.isolate_bus()  # first: before anything starts a thread
    if isolation == "shared_machine":
        running = sb.find_daemon_pid()
        if running is not None:
            print("python_bench: a statebus daemon this benchmark did not start runs on this machine (pid %d), "
                  "and no bus of its own can be had (%s): stop that daemon, or allow namespaces"
                  % (running, sb.isolation_reason()), file=sys.stderr)
            return 77
    daemon = sb.Daemon.start()
    load_at_start = os.getloadavg()[0]

    iterations = 300 if args.quick else 20000
    rounds = 1 if args.quick else 8  # each with one run of pingpong_bench (2 500 C++ round trips)
    warmup = 100 if args.quick else 1000
    if warmup < TRACED_TAKES:
        warmup = TRACED_TAKES  # the echoes' traced takes come before the timed ones

    try:
        import numpy  # noqa: F401  (the zero-copy echoes read through it)
        import zmq
    except ImportError as e:
        print("python_bench: %s: install python3-numpy and python3-zmq (scripts/setup-debian.sh does)" % e,
              file=sys.stderr)
        return 1

    node = sb.connect("python-bench")
    scratch = tempfile.mkdtemp(prefix="python-bench-")
    context = zmq.Context()  # its I/O threads start unpinned, as the echo's
    cases = [
        TypedCase(node, "bench/py-typed"),
        BytesCase(node, "bench/py-bytes"),
        ZmqCase(context, scratch),
        LoanCase(node, "bench/py-loan-64", 64, copy=False),
        LoanCase(node, "bench/py-loan-1m", MIB, copy=False),
        LoanCase(node, "bench/py-copy-1m", MIB, copy=True),
    ]
    cpp_command = pingpong_command(build_dir)
    cpp_runs = []
    pin(LEADER_CPU)
    samples = {case.label: [] for case in cases}
    seq = 1
    for case in cases:
        case.run(seq, warmup, [])
        seq += warmup
    per_round = max(1, iterations // rounds)
    for round_index in range(rounds):
        # The cases take turns, and each round runs pingpong_bench once, so
        # that a drift of the machine over the run hits Python and C++ alike.
        order = cases if round_index % 2 == 0 else list(reversed(cases))
        for case in order:
            case.run(seq, per_round, samples[case.label])
            seq += per_round
        os.sched_setaffinity(0, range(os.cpu_count() or 1))  # its threads pin themselves; the rest unpinned
        cpp_runs.append(pingpong_run(cpp_command))
        pin(LEADER_CPU)
    echoes = {case.label: case.stop() for case in cases}
    context.term()
    local = in_process(node, 1 if args.quick else 5, 2000 if args.quick else 20000)
    os.sched_setaffinity(0, range(os.cpu_count() or 1))
    local_cpp, local_cpp_command = publish_take_cpp(build_dir, 1 if args.quick else 5)
    del node
    daemon.stop()
    cpp, iceoryx = pingpong_figures(cpp_runs)
    cpp_command = " ".join(cpp_command)

    py = {label: figures(s) for label, s in samples.items()}
    typed, raw, zmq_label = cases[0].label, cases[1].label, cases[2].label
    loan64, loan1m, copy1m = cases[3].label, cases[4].label, cases[5].label
    cpp_label = "C++ statebus 64 B (pingpong_bench round_trip/64B/block)"
    iox_label = "C++ raw iceoryx 64 B (same run of pingpong_bench)"
    rows = [(typed, py[typed]), (raw, py[raw]), (cpp_label, cpp), (iox_label, iceoryx),
            (zmq_label, py[zmq_label]), (loan64, py[loan64]), (loan1m, py[loan1m]), (copy1m, py[copy1m])]

    def per_call(a, b, key):
        return (a[key] - b[key]) / BINDING_CALLS

    overhead = {
        "typed_vs_cpp_p50_us": per_call(py[typed], cpp, "p50"),
        "typed_vs_cpp_mean_us": per_call(py[typed], cpp, "mean"),
        "bytes_vs_cpp_p50_us": per_call(py[raw], cpp, "p50"),
        "bytes_vs_cpp_mean_us": per_call(py[raw], cpp, "mean"),
        "pyzmq_vs_bytes_p50_us": per_call(py[zmq_label], py[raw], "p50"),
        "pyzmq_vs_bytes_mean_us": per_call(py[zmq_label], py[raw], "mean"),
        "pyzmq_vs_typed_p50_us": per_call(py[zmq_label], py[typed], "p50"),
    }
    zero_copy = echoes[loan1m]
    copied = echoes[copy1m]
    zero_copy_64 = echoes[loan64]
    checks = {
        "array_at_chunk": zero_copy["traced_takes"] > 0 and zero_copy["array_at_chunk"] == zero_copy["traced_takes"]
        and zero_copy_64["array_at_chunk"] == zero_copy_64["traced_takes"],
        "payload_is_1mib": zero_copy["size"] == MIB,
        "no_copy_per_take": zero_copy["max_take_alloc_bytes"] < COPY_LIMIT,
        "copy_seen_when_copied": copied["max_take_alloc_bytes"] >= MIB,
        "every_case_measured": all(f["samples"] >= per_round * rounds for f in py.values()) and cpp["samples"] > 0
        and local_cpp > 0 and all(mean > 0 for mean in local.values()),
    }
    ratio_1m_64 = py[loan1m]["p50"] / py[loan64]["p50"]

    load = os.getloadavg()[0]
    print("python_bench: %s, %s; %s; load average %.2f at the start, %.2f at the end"
          % (isolation, sb.isolation_reason(), "quick" if args.quick else "full", load_at_start, load))
    print("Round trips ping -> echo -> back, two processes (ping CPU %d, echo CPU %d), µs:\n"
          % (LEADER_CPU, FOLLOWER_CPU))
    print(table(rows, cpp))
    print("\nC++: %s, run %d times between the Python rounds (medians of its runs' percentiles)"
          % (cpp_command, len(cpp_runs)))
    print("\nOverhead per binding call (%d a round trip: publish and take on each side):" % BINDING_CALLS)
    print("  Python typed - C++ statebus:  p50 %+.2f µs, mean %+.2f µs"
          % (overhead["typed_vs_cpp_p50_us"], overhead["typed_vs_cpp_mean_us"]))
    print("  Python bytes - C++ statebus:  p50 %+.2f µs, mean %+.2f µs"
          % (overhead["bytes_vs_cpp_p50_us"], overhead["bytes_vs_cpp_mean_us"]))
    print("  pyzmq - Python bytes:         p50 %+.2f µs, mean %+.2f µs"
          % (overhead["pyzmq_vs_bytes_p50_us"], overhead["pyzmq_vs_bytes_mean_us"]))
    print("\nIn one process (no wake-up: the binding calls by themselves), one publish + one take, µs:")
    print("  C++ statebus, loan() + publish() + take(), 64 B: %.2f  (%s)" % (local_cpp, local_cpp_command))
    local_overhead = {}
    for label, mean in local.items():
        local_overhead[label] = (mean - local_cpp) / 2
        print("  Python %s: %.2f, %+.2f µs a call over C++" % (label, mean, local_overhead[label]))
    print("\nZero copy, 1 MiB: p50 %.1f µs against %.1f µs at 64 B (x%.2f), %.1f µs when the echo copies it"
          % (py[loan1m]["p50"], py[loan64]["p50"], ratio_1m_64, py[copy1m]["p50"]))
    print("  echo's numpy array at BytesSample.address: %d of %d takes (1 MiB), %d of %d (64 B)"
          % (zero_copy["array_at_chunk"], zero_copy["traced_takes"],
             zero_copy_64["array_at_chunk"], zero_copy_64["traced_takes"]))
    print("  most a take allocated (tracemalloc, %d takes): %d B zero copy, %d B when copied"
          % (zero_copy["traced_takes"], zero_copy["max_take_alloc_bytes"], copied["max_take_alloc_bytes"]))
    print("  echo's max RSS growth over the timed takes: %s KiB zero copy, %s KiB when copied"
          % (zero_copy["max_rss_growth_kib"], copied["max_rss_growth_kib"]))
    failed = [name for name, held in checks.items() if not held]
    print("\nchecks: " + ("all held" if not failed else "FAILED: " + ", ".join(failed)))

    if json_out:
        with json_out as out:
            json.dump({
                "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                "command": " ".join([sys.executable] + sys.argv),
                "quick": args.quick,
                "isolation": isolation,
                "load_average": [load_at_start, load],
                "cases_us": dict(rows),
                "cpp_command": cpp_command,
                "cpp_runs": len(cpp_runs),
                "overhead_per_call_us": overhead,
                "in_process_us": {"cpp_statebus_publish_take": local_cpp, "cpp_command": local_cpp_command,
                                  "python": local, "overhead_per_call_us": local_overhead},
                "zero_copy": {"echo_1mib": zero_copy, "echo_64b": zero_copy_64, "echo_copy_1mib": copied,
                              "p50_1mib_over_64b": ratio_1m_64},
                "checks": checks,
            }, out, indent=2)
    return 0 if not failed else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, sb.Error) as error:
        print("python_bench: %s" % error, file=sys.stderr)
        sys.exit(1)
