"""The event scenario's table and targets (bench/event.py; docs/benchmark.md, issue 15)."""

from __future__ import annotations

import re
import statistics

from bench.cpu import ROUTE
from bench.event import CROWDS, ISSUER_TIMEOUT, LINE_CROWD, SWEEP_FLOWS, EventResult
from bench.rounds import Round, bare_at_age, percentile

MIN_SHARE_OF_BARE = 0.90
MAX_CPU_SHARE_OF_AGENT = 0.20
MAX_CALL_P99_S = 1.0
MAX_LINE_CORES = 0.25
MAX_FRONT_P99_MS = 50.0


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def cpu_by_route(rounds: list[Round]) -> list[str]:
    """Where a registration's CPU goes, per route: the portal rounds of each crowd added up."""
    lines = []
    for crowd in CROWDS:
        portal = [r for r in rounds if r.kind == "portal" and r.crowd == crowd]
        registrations = sum(r.done for r in portal)
        if not registrations:
            continue
        routes: dict[str, list[float]] = {}
        for r in portal:
            for key, (seconds, count) in r.by_kind.items():
                if key.startswith(ROUTE) and count:
                    total = routes.setdefault(key.removeprefix(ROUTE), [0.0, 0])
                    total[0], total[1] = total[0] + seconds, total[1] + count
        inside = sum(r.by_kind.get(kind, (0.0, 0))[0] for r in portal for kind in ("pages", "polls", "webhooks"))
        outside = sum(r.portal_cpu for r in portal) - inside - sum(r.by_kind.get("events", (0.0, 0))[0] for r in portal)
        parts = [f"{route} {seconds * 1000 / registrations:.1f} ({count / registrations:.2f} × {seconds * 1000 / count:.1f})"
                 for route, (seconds, count) in sorted(routes.items(), key=lambda item: -item[1][0])]
        events = sum(r.by_kind.get("events", (0.0, 0))[0] for r in portal) * 1000 / registrations
        lines.append(f"Portal CPU ms per registration by route, {crowd} visitors (all rounds; requests per registration "
                     f"× ms each): {', '.join(parts)}; gunicorn outside the application {outside * 1000 / registrations:.1f}; "
                     f"the agent's events {events:.1f}.")
    return lines


def event_table(result: EventResult) -> str:
    lines = [
        f"Bare sweep (credentials/s by concurrency, {SWEEP_FLOWS} flows each): "
        + ", ".join(f"{c}: {rate:.2f}" for c, rate in result.sweep.items()) + f"; bare rounds at {result.concurrency}.",
        "",
        "| visitors | round | bare /s (its round; at the portal round's age) | portal /s | share | p50 / p95 to credential | waited (median / max s) "
        "| while waiting: agent idle, new flows + offers at the agent | freed place taken after (median) | portal CPU ms per registration (pages / polls / the agent's events / server) "
        "| agent CPU ms | portal / agent | machine busy (bare / portal) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for crowd in CROWDS:
        bare = [r for r in result.rounds if r.kind == "bare" and r.crowd == crowd]
        portal = [r for r in result.rounds if r.kind == "portal" and r.crowd == crowd]
        for number, (b, p) in enumerate(zip(bare, portal), start=1):
            at_age = bare_at_age(p, result.rounds)
            lat = p.latencies()
            idle, flows, offers = p.while_waiting()
            waits = [a2 - a1 for a1, a2 in zip(p.arrivals, p.admitted)]
            n = max(1, p.done)
            kinds = {kind: p.by_kind.get(kind, (0.0, 0))[0] * 1000 / n for kind in ("pages", "polls", "webhooks", "events")}
            server = p.portal_cpu * 1000 / n - sum(kinds.values())
            # The agent's events: as webhooks (through gunicorn) or from its websocket (acapy_events).
            agent_events = kinds["webhooks"] + kinds["events"]
            portal_ms, agent_ms = p.portal_cpu * 1000 / n, p.agent_cpu * 1000 / n
            lines.append(
                f"| {crowd} | {number} | {b.rate:.2f}; {at_age:.2f} | {p.rate:.2f} | {p.rate / at_age if at_age else 0:.0%} "
                f"| {percentile(lat, 0.5):.1f} / {percentile(lat, 0.95):.1f} s "
                f"| {p.waited} ({_median(waits):.1f} / {max(waits, default=0):.1f}) | {idle:.1f} s, {flows:.1f} + {offers:.1f} "
                f"| {_median(p.refill_delays()) * 1000:.0f} ms "
                f"| {portal_ms:.0f} ({kinds['pages']:.0f} / {kinds['polls']:.0f} / {agent_events:.0f} / {server:.0f}) "
                f"| {agent_ms:.0f} | {portal_ms / agent_ms if agent_ms else 0:.0%} "
                f"| {b.machine_busy:.0%} / {p.machine_busy:.0%} |"
            )
    lines += ["", *flow_phases(result.rounds), *cpu_per_credential(result.rounds), *cpu_by_route(result.rounds)]
    portal_rounds = [r for r in result.rounds if r.kind == "portal"]
    requests_by_kind = {kind: sum(r.by_kind.get(kind, (0, 0))[1] for r in portal_rounds) for kind in
                        ("pages", "polls", "webhooks")}
    registrations = max(1, sum(r.done for r in portal_rounds))
    streamed = sum(r.by_kind.get("events", (0, 0))[1] for r in portal_rounds)
    lines += ["", "Requests per registration through the portal: " + ", ".join(
        f"{kind} {count / registrations:.1f}" for kind, count in requests_by_kind.items())
        + (f"; the agent's events read from its websocket by acapy_events: {streamed / registrations:.1f}." if streamed
           else ".")]
    lines.append("The issuer's events per credential, by topic and state: " + ", ".join(
        f"{name.strip()} {count:.1f}" for name, count in result.topics.items()) + ".")
    limit = re.search(r"^registerft_line_limit (\S+)", result.metrics, re.M)
    if limit:
        lines.append(f"The line's limit at the end (/metrics): {float(limit.group(1)):.1f}.")
    slowed = result.slowed
    if slowed is not None:
        calls = [ms / 1000 for ms in slowed.round.calls_ms]
        lines.append(
            f"The agent slowed down (another process spinning on one core), {slowed.round.crowd} visitors: "
            f"{slowed.round.done} issued at {slowed.round.rate:.2f}/s, {len(slowed.round.failures)} failed, "
            f"{slowed.round.failed_calls} failed agent calls, calls p99 {percentile(calls, 0.99) * 1000:.0f} ms; "
            f"the line's limit (ceiling {slowed.ceiling}) sampled twice a second: lowest "
            f"{min(slowed.limits, default=0):.0f}, at the end {slowed.limits[-1] if slowed.limits else 0:.0f}.")
    line = result.line
    lines.append(f"{line.waiting} visitors waiting in line for {line.seconds:.0f} s: {line.polls / line.seconds:.0f} "
                 f"polls/s, the portal used {line.cores:.2f} of a core; the line's status for the first 20 in line: "
                 f"p99 {line.front_p99_ms:.0f} ms over {line.front_polls} polls.")
    lines.append(f"gunicorn worker RSS after the scenario: {', '.join(f'{size:.0f} MB' for size in result.rss)}; "
                 f"the scenario took {result.seconds:.0f} s.")
    return "\n".join(lines)


def flow_phases(rounds: list[Round]) -> list[str]:
    """Where a flow's time goes, bare and through the portal (medians over the rounds' flows), and
    the round's end: from the last flow let in to the last credential, when ever fewer flows keep
    the agent busy."""
    lines = []
    for crowd in CROWDS:
        parts = []
        for kind in ("bare", "portal"):
            chosen = [r for r in rounds if r.kind == kind and r.crowd == crowd and r.done]
            if not chosen:
                return []
            tail = _median([max(r.finished) - max(r.admitted) for r in chosen])
            parts.append(f"{kind}: let in to connected {_phase(chosen, 'admitted', 'connected'):.2f} s, connected to "
                         f"offered {_phase(chosen, 'connected', 'offered'):.2f} s, offered to credential "
                         f"{_phase(chosen, 'offered', 'finished'):.2f} s, last let in to last credential {tail:.1f} s")
        lines.append(f"A flow's time, {crowd} visitors (medians): " + "; ".join(parts) + ".")
    return lines


def _phase(rounds: list[Round], start: str, end: str) -> float:
    """The median time from moment ``start`` to moment ``end`` (Round's lists) over the rounds' flows."""
    return _median([b - a for r in rounds for a, b in zip(getattr(r, start), getattr(r, end))])


def cpu_per_credential(rounds: list[Round]) -> list[str]:
    """The whole machine's CPU per credential, by process, in the portal rounds and in the bare
    rounds at the portal rounds' age. When the machine rather than the agent is the limit (the
    wallets run on the same cores), the portal's rate can be at most about the one over the other."""
    lines = []
    fields = (("all", "machine_cpu"), ("agent", "agent_cpu"), ("wallets", "wallets_cpu"), ("portal", "portal_cpu"),
              ("benchmark", "bench_cpu"))
    for crowd in CROWDS:
        portals = [r for r in rounds if r.kind == "portal" and r.crowd == crowd and r.done]
        if not portals:
            return []
        portal = {name: _median([getattr(r, field) * 1000 / r.done for r in portals]) for name, field in fields}
        bare = {name: _median([bare_at_age(r, rounds, lambda b, f=field: getattr(b, f) * 1000 / b.done)
                               for r in portals]) for name, field in fields}
        lines.append(
            f"CPU per credential, whole machine, {crowd} visitors (medians; bare at the portal rounds' age): bare "
            f"{bare['all']:.0f} ms (agent {bare['agent']:.0f}, wallets {bare['wallets']:.0f}, benchmark "
            f"{bare['benchmark']:.0f}); portal {portal['all']:.0f} ms (agent {portal['agent']:.0f}, wallets "
            f"{portal['wallets']:.0f}, portal {portal['portal']:.0f}, benchmark {portal['benchmark']:.0f}): with the "
            f"machine as busy, the CPU leaves the portal {bare['all'] / portal['all'] if portal['all'] else 0:.0%} of "
            "the bare rate.")
    return lines


def event_targets(result: EventResult) -> list[tuple[str, bool, str]]:
    checks = []
    for crowd in CROWDS:
        portal_rounds = [r for r in result.rounds if r.kind == "portal" and r.crowd == crowd]
        portal = [r.rate for r in portal_rounds]
        # The bare rate at each portal round's age: the agent grows slower with every credential.
        bare = [bare_at_age(r, result.rounds) for r in portal_rounds]
        measured = [r.rate for r in result.rounds if r.kind == "bare" and r.crowd == crowd]
        share = _median(portal) / _median(bare) if bare and _median(bare) else 0.0
        checks.append((f"event, {crowd} visitors: >= {MIN_SHARE_OF_BARE:.0%} of the bare rate (medians)",
                       share >= MIN_SHARE_OF_BARE,
                       f"{share:.1%}: portal {_median(portal):.2f}/s, bare at the portal rounds' age "
                       f"{_median(bare):.2f}/s (bare rounds themselves {_median(measured):.2f}/s: "
                       f"{_median(portal) / _median(measured) if measured and _median(measured) else 0:.0%})"))
    portal_rounds = [r for r in result.rounds if r.kind == "portal"]
    shares = [r.portal_cpu / r.agent_cpu for r in portal_rounds if r.agent_cpu]
    checks.append((f"event: portal CPU per registration <= {MAX_CPU_SHARE_OF_AGENT:.0%} of the agent's (median)",
                   bool(shares) and _median(shares) <= MAX_CPU_SHARE_OF_AGENT,
                   f"{_median(shares):.1%} (rounds {', '.join(f'{s:.1%}' for s in shares)})"))
    failures = sum(len(r.failures) + r.failed_calls for r in result.rounds)
    issued = all(r.done == r.crowd for r in result.rounds)
    examples = [f for r in result.rounds for f in r.failures][:3]
    checks.append(("event: every visitor and flow issued, no failed agent call", failures == 0 and issued,
                   f"{failures} failures{': ' + '; '.join(examples) if examples else ''}"
                   + (f"; the agent gave up: {'; '.join(result.agent_errors[:3])}" if result.agent_errors else "")))
    calls = [ms / 1000 for r in portal_rounds for ms in r.calls_ms]
    p99 = percentile(calls, 0.99)
    checks.append((f"event: the portal's agent calls p99 < {MAX_CALL_P99_S:.0f} s, none over the issuer timeout",
                   bool(calls) and p99 < MAX_CALL_P99_S and max(calls) < ISSUER_TIMEOUT,
                   f"p99 {p99 * 1000:.0f} ms, slowest {max(calls, default=0) * 1000:.0f} ms, {len(calls)} calls"))
    slowed = result.slowed
    if slowed is not None:
        lowest = min(slowed.limits, default=slowed.ceiling)
        failed = len(slowed.round.failures) + slowed.round.failed_calls
        checks.append(("event: with the agent slowed down the line's limit comes down by itself and nothing fails",
                       lowest < slowed.ceiling and failed == 0 and slowed.round.done == slowed.round.crowd,
                       f"lowest limit {lowest:.0f} of {slowed.ceiling}, {slowed.round.done}/{slowed.round.crowd} issued, "
                       f"{failed} failures"))
    line = result.line
    checks.append((f"event: {LINE_CROWD:,} waiting cost the portal <= {MAX_LINE_CORES} of a core",
                   line.waiting >= LINE_CROWD * 0.99 and line.cores <= MAX_LINE_CORES,
                   f"{line.cores:.2f} of a core, {line.polls / line.seconds:.0f} polls/s, {line.waiting} waiting"))
    checks.append((f"event: the line's status p99 < {MAX_FRONT_P99_MS:.0f} ms for the first 20",
                   line.front_polls > 0 and line.front_p99_ms < MAX_FRONT_P99_MS,
                   f"{line.front_p99_ms:.0f} ms over {line.front_polls} polls"))
    checks.append(("event: worker RSS <= 80 MB", bool(result.rss) and max(result.rss) <= 80,
                   f"largest {max(result.rss, default=0):.0f} MB"))
    return checks
