#!/usr/bin/env python3
"""Builds the benchmark report from Google Benchmark JSON files.

usage: make_report.py OUT_DIR MACHINE_TXT JSON...

Writes OUT_DIR/report.md (round trips per transport and payload with
p50/p99/p99.9/max, ratios to the baselines measured in the same run, the
peer libraries (ZeroMQ, nng, LCM, Cyclone DDS) beside statebus, the
MQTT bridge against a bare MQTT client, the cost figures; each target beside
its figure in the newest report kept in bench/report, or the one
STATEBUS_PREVIOUS_REPORT names) and
OUT_DIR/latency.dat + latency.gp for gnuplot, which the calling script
renders to OUT_DIR/latency.png. Exits 1 if a benchmark
reported an error or no samples (a broken benchmark), never for slowness.
"""
import json
import os
import sys
from collections import defaultdict


def previous_targets():
    """The targets table of the newest report kept in bench/report (or the
    file STATEBUS_PREVIOUS_REPORT names): {target text: figure}."""
    path = os.environ.get("STATEBUS_PREVIOUS_REPORT")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        kept = sorted(f for f in os.listdir(here) if f.startswith("report-") and f.endswith(".md"))
        path = os.path.join(here, kept[-1]) if kept else None
    if not path or not os.path.exists(path):
        return None, {}
    figures = {}
    in_targets = False
    for line in open(path, encoding="utf-8"):
        if line.startswith("## "):
            in_targets = line.startswith("## Targets")
        elif in_targets and line.startswith("| ") and not line.startswith(("| target |", "|---")):
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            if len(cells) >= 2:
                figures[cells[0]] = cells[1]
    return path, figures


def main() -> int:
    out_dir, machine_file, *files = sys.argv[1:]
    machine = open(machine_file, encoding="utf-8").read().strip()
    runs = []
    broken = []
    for path in files:
        data = json.load(open(path, encoding="utf-8"))
        for b in data.get("benchmarks", []):
            if b.get("error_occurred"):
                broken.append(f"{b['name']}: {b.get('error_message', 'error')}")
                continue
            if "samples" in b and b["samples"] == 0:
                broken.append(f"{b['name']}: no samples")
                continue
            runs.append(b)

    # Round trips: (transport, pinning) -> size -> (p50, p99, p999, max) in µs.
    series = defaultdict(dict)
    header_ratio = {}  # (header mode, payload) -> p50 with the header / without, from the same run
    same_policy_ratio = {}  # payload -> statebus poll / raw iceoryx with statebus's delivery policy, one run
    for b in runs:
        name = b["name"]
        parts = name.split("/")
        if name.startswith("baseline/"):
            _, kind, size, pinning = parts[:4]
            size = int(size.rstrip("B"))
            series[(kind, pinning)][size] = tuple(b[f"us_{k}"] for k in ("p50", "p99", "p99.9", "max"))
        elif name.startswith("round_trip/"):
            size = int(parts[1].rstrip("B"))
            mode = parts[2]
            pin = parts[3] if len(parts) > 3 and parts[3] in ("same", "cross") else "cross"
            if len(parts) > 3 and parts[3].endswith("Hz"):
                mode += "@" + parts[3]
            if mode == "poll_same_policy":
                same_policy_ratio[size] = b.get("ratio_p50")
                continue
            header_run = mode in ("header", "header16")  # raw iceoryx with and without a user header, polled
            if header_run:
                header_ratio[(mode, size)] = b.get("ratio_p50")  # against its own plain run, interleaved
                mode = "poll"
            for prefix, label in (("statebus_us_", f"statebus_{mode}"),
                                  ("iceoryx_us_", None if header_run else f"iceoryx_{mode}"),
                                  ("iceoryx72_us_", f"iceoryx_72B_header_{mode}"),
                                  ("iceoryx16_us_", f"iceoryx_16B_header_{mode}")):
                if label is None or label.startswith(("iceoryx_spin", "iceoryx_adaptive")):
                    continue  # raw iceoryx has no spin-then-block: that run blocks it in a WaitSet
                if prefix + "p50" in b:
                    series[(label, pin)][size] = tuple(b[prefix + k] for k in ("p50", "p99", "p99.9", "max"))
        elif name.startswith("peers/") and parts[2] != "statebus_poll" and "peer_us_p50" in b:
            series[(f"{parts[2]}_block", "cross")][int(parts[1].rstrip("B"))] = tuple(
                b[f"peer_us_{k}"] for k in ("p50", "p99", "p99.9", "max"))
        elif name.startswith("BM_CellRoundTrip"):
            series[("state_cell_poll", "cross")][16] = tuple(b[f"cell_ns_{k}"] / 1000 for k in ("p50", "p99", "p99.9", "max"))
            series[("shm_spin_interleaved", "cross")][16] = tuple(
                b[f"spin_ns_{k}"] / 1000 for k in ("p50", "p99", "p99.9", "max"))
            for prefix, label in (("seqlock_ns_", "shm_seqlock_interleaved"),
                                  ("locked_seqlock_ns_", "shm_locked_seqlock_interleaved")):
                if prefix + "p50" in b:
                    series[(label, "cross")][16] = tuple(b[prefix + k] / 1000 for k in ("p50", "p99", "p99.9", "max"))

    lines = ["# statebus benchmark report", "", "```", machine, "```", ""]
    lines += ["## Round trips between two processes (µs)", "",
              "| transport | pinning | payload | p50 | p99 | p99.9 | max |", "|---|---|---|---|---|---|---|"]
    for (kind, pinning), sizes in sorted(series.items()):
        for size, (p50, p99, p999, mx) in sorted(sizes.items()):
            lines.append(f"| {kind} | {pinning} | {human(size)} | {p50:.2f} | {p99:.2f} | {p999:.2f} | {mx:.1f} |")

    def p50(kind, size, pinning="cross"):
        return series.get((kind, pinning), {}).get(size, (None,))[0]

    previous_path, previous = previous_targets()
    lines += ["", "## Targets (ratios within this run)", ""]
    if previous_path:
        lines += [f"`previous run`: the same target in {os.path.basename(previous_path)}, the newest report kept in "
                  "bench/report (ratios of one run each: the machine's noise is in both).", ""]
    lines += ["| target | figure | met | previous run |", "|---|---|---|---|"]

    def target(text, value, limit):
        before = previous.get(text, "—")
        if value is None:
            lines.append(f"| {text} | not measured in this run | — | {before} |")
        else:
            met = "— (no target)" if limit is None else "yes" if value <= limit else "no"
            lines.append(f"| {text} | {value:.2f} | {met} | {before} |")

    def ratio(a, b):
        return a / b if a is not None and b else None

    target("statebus poll / raw iceoryx poll, 64 B, p50 (≤ 1.10; raw iceoryx with its default delivery, which "
           "no lossless subscriber can join)", ratio(p50("statebus_poll", 64), p50("iceoryx_poll", 64)), 1.10)
    target("statebus poll / raw iceoryx poll with statebus's delivery policy (publishers wait for lossless "
           "subscribers: WAIT_FOR_CONSUMER), 64 B, p50 (≤ 1.10)", same_policy_ratio.get(64), 1.10)
    target("raw iceoryx with a 72 B user header / without, poll, 64 B, p50 (the header's own cost)",
           header_ratio.get(("header", 64)), None)
    target("raw iceoryx with a 16 B user header / without, poll, 64 B, p50 (a header that leaves the payload's first "
           "bytes in the chunk header's line)", header_ratio.get(("header16", 64)), None)
    target("statebus poll / raw iceoryx with a 72 B user header, 64 B, p50 (what statebus adds beyond it)",
           ratio(p50("statebus_poll", 64), p50("iceoryx_72B_header_poll", 64)), None)
    biggest = max(series.get(("statebus_poll", "cross"), {64: None}).keys())
    target(f"statebus poll, largest payload ({human(biggest)}) / 64 B, p50 (≤ 1.5)",
           ratio(p50("statebus_poll", biggest), p50("statebus_poll", 64)) if biggest > 64 else None, 1.5)
    target("statebus block 8 B / futex 8 B, across CPUs, p50 (≤ 1.2)",
           ratio(p50("statebus_block", 8), p50("futex", 8)), 1.2)
    target("statebus block 64 B / futex 8 B, one CPU, p50 (≤ 1.2)",
           ratio(p50("statebus_block", 64, "same"), p50("futex", 8, "same")), 1.2)
    target("statebus spin-then-block (20 µs) / poll, 64 B at a steady 10 kHz, p50",
           ratio(p50("statebus_spin@10kHz", 64), p50("statebus_poll@10kHz", 64)), None)
    target("statebus adaptive spin / poll, 64 B at a steady 10 kHz, p50 (≤ 1.5)",
           ratio(p50("statebus_adaptive@10kHz", 64), p50("statebus_poll@10kHz", 64)), 1.5)
    for b in runs:
        if b["name"].startswith("idle_subscriber/spin_then_block"):
            target("CPU share of an idle spin-then-block subscriber, % of a core (≤ 2)", b["cpu_pct"], 2.0)
    target("state cell / shared-memory spin, p50 (≤ 1.5)",
           ratio(p50("state_cell_poll", 16), p50("shm_spin_interleaved", 16)), 1.5)
    target("bare seqlock (a cell's four writes, no lock or wake-up) / shared-memory spin, p50: the protocol's own cost",
           ratio(p50("shm_seqlock_interleaved", 16), p50("shm_spin_interleaved", 16)), None)
    target("bare seqlock with a writer lock word (compare-exchange, exchange) / shared-memory spin, p50: "
           "the least a store that serialises writers costs", ratio(p50("shm_locked_seqlock_interleaved", 16),
                                                                    p50("shm_spin_interleaved", 16)), None)
    target("state cell / bare seqlock with a writer lock word, p50: what the cell adds (robust lock, writer, wake-up)",
           ratio(p50("state_cell_poll", 16), p50("shm_locked_seqlock_interleaved", 16)), None)
    for b in runs:
        if b["name"].startswith("log_call_bus_sink_vs_spdlog_async"):
            target("log call p50, bus sink / spdlog async (≤ 1.0)", b["p50_ratio"], 1.0)
            target("log call p99.9, bus sink (read by a recorder) / spdlog async (≤ 1.0)", b.get("p999_ratio"), 1.0)
            target("log call p50, bus sink / spdlog's synchronous null sink (formatting alone, the floor)",
                   b.get("p50_vs_sync"), None)
            if b.get("written"):
                target("log records the recorder read / records written (a burst of calls back to back)",
                       b.get("recorded", 0) / b["written"], None)
        if b["name"].startswith("log_call_reader_polled_vs_spdlog_async"):
            target("log call p50, bus sink with its reader polling (no wake-up) / spdlog async", b["p50_ratio"], None)

    lines += paced_section(runs)
    lines += peers_section(runs)
    lines += service_section(runs)
    lines += mqtt_section(runs)
    lines += demo_section(out_dir, runs)

    lines += ["", "## Costs", "", "| benchmark | time | counters |", "|---|---|---|"]
    for b in runs:
        if b["name"].startswith(("baseline/", "round_trip/", "mqtt/", "peers/", "call/", "calls_per_s/")):
            continue
        counters = ", ".join(f"{k}={fmt(v)}" for k, v in sorted(b.items())
                             if isinstance(v, (int, float)) and k not in (
                                 "real_time", "cpu_time", "iterations", "repetitions", "repetition_index",
                                 "threads", "family_index", "per_family_instance_index"))
        lines.append(f"| {b['name']} | {b['real_time']:.1f} {b['time_unit']} | {counters} |")
    if broken:
        lines += ["", "## Broken benchmarks", ""] + [f"- {b}" for b in broken]
    open(f"{out_dir}/report.md", "w", encoding="utf-8").write("\n".join(lines) + "\n")

    # The plot: p50 against payload, one line per transport (cross-CPU).
    plotted = [(k, v) for (k, pin), v in sorted(series.items()) if pin == "cross" and len(v) > 1]
    with open(f"{out_dir}/latency.dat", "w", encoding="utf-8") as dat:
        for kind, sizes in plotted:
            dat.write(f'"{kind}"\n')
            for size, values in sorted(sizes.items()):
                dat.write(f"{size} {values[0]} {values[1]}\n")
            dat.write("\n\n")
    singles = [(k, v) for (k, pin), v in sorted(series.items()) if pin == "cross" and len(v) == 1]
    with open(f"{out_dir}/latency.gp", "w", encoding="utf-8") as gp:
        gp.write(f'set terminal pngcairo size 960,600 font ",10" noenhanced\nset output "{out_dir}/latency.png"\n')
        gp.write('set logscale xy\nset xlabel "payload (bytes)"\nset ylabel "round trip p50 (µs)"\n')
        gp.write('set title "Round trips between two processes, leader and follower on different CPUs"\n')
        gp.write('set key outside right\nset grid\n')
        plots = [f'"{out_dir}/latency.dat" index {i} using 1:2 with linespoints title columnheader(1)'
                 for i in range(len(plotted))]
        for kind, sizes in singles:
            size, values = next(iter(sizes.items()))
            plots.append(f'"+" using ({size}):({values[0]}) every ::0::0 with points pointsize 2 title "{kind}"')
        gp.write("plot " + ", \\\n     ".join(plots) + "\n")
    print("\n".join(lines))
    if broken:
        print("\nbroken benchmarks:\n" + "\n".join(broken), file=sys.stderr)
        return 1
    return 0


def peers_section(runs) -> list:
    """ZeroMQ, nng, LCM, Cyclone DDS beside statebus (peers_bench): figures, statebus's ratios, the goal."""
    keys = ("p50", "p99", "p99.9")
    peers = {}  # (peer, size) -> (peer figures, statebus block figures measured beside it, lost)
    poll = {}  # size -> statebus poll figures
    for b in runs:
        parts = b["name"].split("/")
        if not b["name"].startswith("peers/") or len(parts) < 3:
            continue
        size = int(parts[1].rstrip("B"))
        if parts[2] == "statebus_poll":
            if "statebus_poll_us_p50" in b:
                poll[size] = [b[f"statebus_poll_us_{k}"] for k in keys]
        elif "peer_us_p50" in b:
            peers[(parts[2], size)] = ([b[f"peer_us_{k}"] for k in keys],
                                       [b[f"statebus_block_us_{k}"] for k in keys], int(b.get("peer_lost", 0)))
    if not peers and not poll:
        return []

    def trio(values):
        return " / ".join(f"{v:.1f}" for v in values)

    def ratios(ours, theirs):
        return " / ".join(f"{a / b:.3g}" if b else "—" for a, b in zip(ours, theirs))

    lines = ["", "## Peers: the libraries users would pick instead (µs)", "",
             "Two processes, leader on CPU 0 and follower on CPU 1 (the libraries' threads inherit the pinning), "
             "blocking receive on both sides; ZeroMQ PAIR and nng pair0 over ipc:// (their request/reply sockets "
             "are in the service calls' table), LCM UDP multicast and Cyclone "
             "DDS UDP (reliable, keep last 1) on loopback inside a private network namespace. Each peer is measured "
             "in blocks of 100 round trips alternating with statebus in blocking mode (\"statebus block\", the "
             "figure beside it); statebus poll is its own run of the same size. Ratios are statebus / peer: "
             "below 1 statebus is faster. Figures are p50 / p99 / p99.9.", "",
             "| peer | payload | peer | lost | statebus block | block / peer | statebus poll | poll / peer |",
             "|---|---|---|---|---|---|---|---|"]
    for (peer, size), (theirs, ours, lost) in sorted(peers.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        polled = poll.get(size)
        lines.append(f"| {peer} | {human(size)} | {trio(theirs)} | {lost} | {trio(ours)} | {ratios(ours, theirs)} | "
                     f"{trio(polled) if polled else '—'} | {ratios(polled, theirs) if polled else '—'} |")
    for size, polled in sorted(poll.items()):
        if not any(s == size for _, s in peers):
            lines.append(f"| — | {human(size)} | — | — | — | — | {trio(polled)} | — |")

    # The goal: statebus fastest or within 1.1× of the fastest at every size
    # (its blocking mode against their blocking receive), and flat.
    lines += ["", "| goal | figure | met |", "|---|---|---|"]
    for size in sorted({s for _, s in peers}):
        worst = max(((ours[0] / theirs[0], peer) for (peer, s), (theirs, ours, _) in peers.items()
                     if s == size and theirs[0]), default=None)
        if worst:
            lines.append(f"| statebus block / fastest peer, {human(size)}, p50 (≤ 1.10) | {worst[0]:.2f} "
                         f"(against {worst[1]}) | {'yes' if worst[0] <= 1.10 else 'no'} |")
    sizes = sorted({s for _, s in peers} | set(poll))
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        flat = []
        if small in poll and large in poll:
            flat.append(("statebus poll", poll[large][0] / poll[small][0]))
        for peer in sorted({p for p, _ in peers}):
            if (peer, small) in peers and (peer, large) in peers:
                flat.append((peer, peers[(peer, large)][0][0] / peers[(peer, small)][0][0]))
                if peer == sorted({p for p, _ in peers})[0]:
                    flat.append(("statebus block", peers[(peer, large)][1][0] / peers[(peer, small)][1][0]))
        text = ", ".join(f"{name} {value:.1f}" for name, value in flat)
        only = [name for name, value in flat if value <= 1.5]
        lines.append(f"| p50 at {human(large)} / p50 at {human(small)} (flat: ≤ 1.5; only statebus flat) | {text} | "
                     f"{'yes' if only and all(n.startswith('statebus') for n in only) else 'no'} |")
    return lines


def service_section(runs) -> list:
    """Service calls beside their floors, two channels and raw iceoryx client/server, and beside the
    request/reply sockets of ZeroMQ and nng in the blocking runs: all from service_bench, interleaved."""
    keys = ("p50", "p99", "p99.9")
    rows = []
    rates = []
    reqrep = {}  # (peer, size, wait) -> figures, measured in the call's own alternation
    for b in runs:
        parts = b["name"].split("/")
        if b["name"].startswith("call/") and "call_us_p50" in b:
            figures = [[b[f"{t}_us_{k}"] for k in keys] for t in ("call", "channels", "iceoryx_cs")]
            rows.append((int(parts[1].rstrip("B")), parts[2], figures))
            for peer in ("zeromq_reqrep", "nng_reqrep"):
                if f"{peer}_us_p50" in b:
                    reqrep[(peer, int(parts[1].rstrip("B")), parts[2])] = [b[f"{peer}_us_{k}"] for k in keys]
        elif b["name"].startswith("calls_per_s/") and "calls_per_s" in b:
            rates.append(f"{parts[3]} ({parts[2]}, {parts[1]}): {b['calls_per_s']:.0f} calls/s")
    if not rows and not rates:
        return []

    def trio(values):
        return " / ".join(f"{v:.1f}" for v in values)

    names = {"zeromq_reqrep": "ZeroMQ REQ/REP", "nng_reqrep": "nng req0/rep0"}
    peers = sorted({peer for peer, _, _ in reqrep}, reverse=True)  # ZeroMQ, then nng
    text = ("Client on CPU 0, server on CPU 1; a statebus call (Client::call against a Server), the same exchange "
            "by hand on two statebus channels, and raw iceoryx client/server, in alternating blocks of one run. "
            "Figures are p50 / p99 / p99.9; ratios are the call's p50 / the floor's.")
    if peers:
        text += (" Beside the blocking calls, the request/reply sockets of the peer libraries over ipc:// "
                 "(blocking receive, the server's socket in the server process, the libraries' threads on its CPU), "
                 "in the same alternation of the same run; their ratios are the call's p50 / the peer's (below 1 "
                 "the call is faster). The call copies request and response into shared memory; the sockets copy "
                 "each message into and out of the kernel.")
    header = "| wait | payload | call | two channels | iceoryx client/server | call / channels | call / iceoryx |"
    rule = "|---|---|---|---|---|---|---|"
    for peer in peers:
        header += f" {names.get(peer, peer)} | call / {names.get(peer, peer)} |"
        rule += "---|---|"
    lines = ["", "## Service calls beside their floors (µs)", "", text, "", header, rule]
    for size, wait, (call, channels, iceoryx) in sorted(rows):
        line = (f"| {wait} | {human(size)} | {trio(call)} | {trio(channels)} | {trio(iceoryx)} | "
                f"{call[0] / channels[0]:.2f} | {call[0] / iceoryx[0]:.2f} |")
        for peer in peers:
            theirs = reqrep.get((peer, size, wait))
            line += f" {trio(theirs)} | {call[0] / theirs[0]:.2f} |" if theirs and theirs[0] else " — | — |"
        lines.append(line)
    if rates:
        lines += ["", "Calls per second, client processes on CPU 1, server in an EventLoop on CPU 0: " +
                  "; ".join(rates) + "."]
    return lines


def mqtt_section(runs) -> list:
    """The MQTT bridge against a bare libmosquitto client (mqtt_bench): ratios, goals, where the time goes."""
    rows, hops, cpu = [], [], []
    keys = ("p50", "p99", "p99.9", "max")

    def label(name):  # mqtt/round_trip/64B/qos0/bridge_unpinned -> QoS 0, bridge threads unpinned
        parts = name.split("/")[3:]
        text = parts[0].replace("qos", "QoS ")
        return text + (", bridge threads unpinned" if "bridge_unpinned" in parts else "")

    for b in runs:
        name = b["name"]
        if name.startswith("mqtt/round_trip/"):
            bridged = [b[f"bridged_us_{k}"] for k in keys]
            bare = [b[f"bare_us_{k}"] for k in keys]
            ratios = [x / y if y else float("nan") for x, y in zip(bridged, bare)]
            rows.append(f"| round trip {label(name)}: p50 / p99 / p99.9 / max (µs) | "
                        f"{' / '.join(f'{v:.0f}' for v in bridged)} | {' / '.join(f'{v:.0f}' for v in bare)} | "
                        f"{' / '.join(f'{r:.2f}' for r in ratios)} | p50 ≤ 1.3 | {'yes' if ratios[0] <= 1.3 else 'no'} |")
            cpu.append(f"round trip {label(name)}: {b['bridge_cpu_us_per_sample']:.1f} "
                       f"(bare client: {b['bare_client_cpu_us_per_message']:.1f})")
            if not hops and "hop_bare_out_us_p50" in b:
                h = lambda k: f"{b[f'hop_{k}_us_p50']:.1f}"
                hops = ["", f"Where the time of a round trip goes ({label(name)}, p50 of each step, µs; one "
                            "CLOCK_MONOTONIC, read by the leader and the echo):", "",
                        "| step | bridged | bare |", "|---|---|---|",
                        f"| send → the echo has it | {h('bridged_out')} | {h('bare_out')} |",
                        f"| … of which: bus publish → the bridge's bus thread has the sample | "
                        f"{h('bridged_out_to_bridge')} | — |",
                        f"| … of which: → the echo has it (JSON rendering, libmosquitto, socket, broker) | "
                        f"{h('bridged_out_bridge_to_echo')} | — |",
                        f"| the echo (read, rewrite, write) | {h('bridged_echo')} | {h('bare_echo')} |",
                        f"| the echo's write → the answer taken | {h('bridged_back')} | {h('bare_back')} |",
                        f"| … of which: the bridge's bus publish → the subscriber has it | {h('bridged_back_bus')} | — |"]
        elif name.startswith("mqtt/throughput/"):
            ratio = b["ratio"]
            rows.append(f"| throughput {label(name)}, sender flat out (messages/s delivered; lost) | "
                        f"{b['bridged_msgs_per_s']:.0f} ({b['bridged_lost_pct']:.0f} % lost) | "
                        f"{b['bare_msgs_per_s']:.0f} ({b['bare_lost_pct']:.0f} % lost) | {ratio:.2f} | ≥ 0.7 | "
                        f"{'yes' if ratio >= 0.7 else 'no'} |")
            cpu.append(f"throughput {label(name)} (out only): {b['bridge_cpu_us_per_sample']:.1f} "
                       f"(bare client: {b['bare_client_cpu_us_per_message']:.1f})")
    if not rows:
        return []
    return ["", "## MQTT bridge", "",
            "Bus → bridge → broker → echo → broker → bridge → bus, against a bare libmosquitto client sending the "
            "same JSON through the same broker and echo; one message in flight, 64 B on the bus. Throughput: a "
            "sender flat out, counted where it arrives; what is lost counts against the side that lost it (the "
            "bridge drops rather than hold up the bus).", "",
            "| figure | bridged | bare | bridged / bare | goal | met |", "|---|---|---|---|---|---|"] + rows + \
        ["", "The bridge's CPU per sample (µs; the process's CPU time less the benchmark thread's, during the "
             "bridged runs; a round trip is one sample out and one in), and in brackets the bare client's per "
             "message (the benchmark thread's CPU time during the bare runs; its socket calls are the bridge's "
             "network thread's on the bridged side): " + "; ".join(cpu) + "."] + hops


def demo_section(out_dir, runs) -> list:
    """The heating demo's own figures (demo_times.sh): a simulated day in lockstep, its ratio to the futex
    floor of this run's baseline_bench, the scaled demo's CPU."""
    try:
        text = open(os.path.join(out_dir, "demo.txt"), encoding="utf-8").read()
    except OSError:
        return []
    d = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    lines = ["", "## The heating demo", "", "| figure | value | goal | met |", "|---|---|---|---|"]
    if "lockstep_wall_s" in d:
        wall = float(d["lockstep_wall_s"])
        lines.append(f"| `statebus-home --duration {d['lockstep_duration']} --lockstep`: wall (user, system) | "
                     f"{wall:.2f} s ({float(d['lockstep_user_s']):.2f} s, {float(d['lockstep_sys_s']):.2f} s) for "
                     f"{d.get('lockstep_readings', '?')} readings | ≤ 1 s for a day | "
                     f"{'yes' if wall <= 1.0 else 'no'}{'' if d['lockstep_duration'] == '24h' else ' (quick: a shorter day)'} |")
    futex = next((b for b in runs if b["name"].startswith("baseline/futex/8B/cross")), None)
    if d.get("lockstep_day_s") and d.get("lockstep_readings") and futex is not None:
        # A step of the day is at least one wake-up across processes; the floor is one futex round trip (two
        # wake-ups) a step. Its mean, not its p50: a sum of 86 400 round trips is governed by the mean.
        unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[futex.get("time_unit", "us")]
        steps = int(d["lockstep_readings"])
        floor_s = steps * futex["real_time"] * unit
        day_s = float(d["lockstep_day_s"])
        ratio = day_s / floor_s
        lines.append(f"| lockstep day / futex floor (≤ 1.5): the day's simulation ({day_s:.2f} s, the demo's own "
                     f"\"in X s of real time\") over {steps} steps × the mean futex round trip across CPUs of this "
                     f"run (baseline/futex/8B/cross, {futex['real_time'] * unit * 1e6:.1f} µs mean, "
                     f"{futex.get('us_p50', float('nan')):.1f} µs p50; = {floor_s:.2f} s) | {ratio:.2f} | ≤ 1.5 | "
                     f"{'yes' if ratio <= 1.5 else 'no'}{'' if d['lockstep_duration'] == '24h' else ' (quick: a shorter day)'} |")
    if "lockstep_same" in d:
        lines.append(f"| the same day twice in lockstep (readings, switches, duty cycle, room range) | "
                     f"{d['lockstep_same']} | yes | {'yes' if d['lockstep_same'] == 'yes' else 'no'} |")
    if "scaled_cpu_share" in d:
        lines.append(f"| scaled demo ({d['scaled_duration']} in {float(d['scaled_wall_s']):.1f} s, no web): CPU of all "
                     f"its processes | {100 * float(d['scaled_cpu_share']):.0f} % of one core | — | — |")
    return lines


def paced_section(runs):
    """A subscriber fed at a steady rate: latency and CPU share per way of waiting."""
    rows = [b for b in runs if b["name"].startswith("paced_subscriber/")]
    if not rows:
        return []
    out = ["", "## A subscriber fed at a steady rate: latency and CPU side by side", "",
           "Publish to take, one process, publisher on CPU 0 and subscriber on CPU 1 (`paced_subscriber`).", "",
           "| rate | wait | latency p50 (µs) | p99 | p99.9 | CPU share of a core |", "|---|---|---|---|---|---|"]
    for b in rows:
        _, rate, how = b["name"].split("/")[:3]
        out.append(f"| {rate} | {how} | {b['latency_us_p50']:.2f} | {b['latency_us_p99']:.1f} | "
                   f"{b['latency_us_p99.9']:.1f} | {b['cpu_pct']:.1f} % |")
    return out


def human(size: int) -> str:
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"


def fmt(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    sys.exit(main())
