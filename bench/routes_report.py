"""`make bench`'s routes: their table and the targets they are checked against (docs/benchmark.md)."""

from __future__ import annotations

from typing import Any

from bench.wrk import Measure

# The targets the benchmark checks (docs/benchmark.md).
STATUS_MIN_RATIO = 0.50
START_MIN_RATIO = 0.05
LATENCY_TOLERANCE = 0.15  # "the same within noise" with 100 ms issuer latency as with 0 ms
SESSION_FILES_TOLERANCE = 0.10
MAX_CALLS_PER_REGISTRATION = 4
MIN_CHECK_GAP_S = 2.5  # agent-rest: "at most one state check per registration every few seconds"
MAX_WORKER_RSS_MB = 80
MANY_SESSIONS = 100_000
# Rounds of each measurement; the verdicts take each route's best. A round here sometimes runs at
# half the rate of its neighbours (the machine, not the code: its CPU per request rises with it),
# and with two rounds one such round could decide a verdict.
ROUNDS = 3


ROUTES = [
    # key, label, condition
    ("minimal", "minimal Django view (ceiling)", ""),
    ("start", "/ (new visitor, QR)", "issuer 0 ms"),
    ("conn", "/check_connection/status", "issuer 0 ms"),
    ("cred", "/loading/status", "issuer 0 ms"),
    ("conn_slow", "/check_connection/status", "issuer 100 ms"),
    ("cred_slow", "/loading/status", "issuer 100 ms"),
    ("conn_few", "/check_connection/status", "10 sessions, alternating with the 100,000 below"),
    ("cred_few", "/loading/status", "10 sessions, alternating with the 100,000 below"),
    ("conn_many", "/check_connection/status", f"{MANY_SESSIONS:,} sessions"),
    ("cred_many", "/loading/status", f"{MANY_SESSIONS:,} sessions"),
    ("name", "POST /name (details form)", "issuer 0 ms"),
]


def ratio(results: dict[str, list[Measure]], key: str, index: int) -> float:
    ceiling = results["minimal"][index].rps
    return results[key][index].rps / ceiling if ceiling else float("nan")


def table(results: dict[str, list[Measure]], calls: dict[str, Any], rss: list[float], backend: str,
          standin_ms: float) -> str:
    numbers = " / ".join(str(number) for number in range(1, ROUNDS + 1))
    lines = [
        f"| route | condition | req/s ({numbers}) | p50 ms ({numbers}) | p99 ms ({numbers}) | of ceiling ({numbers}) "
        f"| portal CPU ms/req ({numbers}) |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label, condition in ROUTES:
        runs = results[key]
        if not runs:
            continue
        many = key.endswith(("_many", "_few"))
        pair = [f"{m.rps:.0f}" for m in runs], [f"{m.p50_ms:.1f}" for m in runs], [f"{m.p99_ms:.1f}" for m in runs]
        ratios = " / ".join(f"{ratio(results, key, i):.0%}" for i in range(len(runs))) if not many else \
            " / ".join(f"{m.rps / results['minimal'][-1].rps:.0%}" for m in runs)
        notes = [note for m in runs for note in m.notes]
        bad = sum(m.errors + m.bad for m in runs)
        if bad:
            notes.append(f"{bad} unexpected answers")
        lines.append(f"| {label} | {condition}{'; ' + '; '.join(notes) if notes else ''} | {' / '.join(pair[0])} | "
                     f"{' / '.join(pair[1])} | {' / '.join(pair[2])} | {ratios} | {' / '.join(f'{m.cpu_ms:.2f}' for m in runs)} |")
    lines.append("")
    lines.append(f"The stand-in issuer answers in {standin_ms:.1f} ms at rest (median of 20 calls): the rows "
                 "\"issuer 0 ms\" wait that long for it, those with 100 ms that much longer.")
    lines.append(calls_line(calls, backend))
    lines.append(f"gunicorn worker RSS after the run: {', '.join(f'{size:.0f} MB' for size in rss)}.")
    return "\n".join(lines)


def calls_line(calls: dict[str, Any], backend: str) -> str:
    per = calls.get("calls_per_registration")
    if per is None:
        return f"Issuer ({backend}): no registration completed."
    gap = calls["min_check_gap_s"]
    return (
        f"Issuer ({backend}): {per:.1f} calls per completed registration ({calls['completed']} registrations, "
        f"most for one: {calls['max_calls_one_registration']}, {calls['polls_per_registration']:.0f} status polls "
        f"each, {calls['seconds_per_registration']:.1f} s each); shortest gap between two state checks of one "
        f"registration: {f'{gap:.1f} s' if gap is not None else 'none (no checks)'}; calls by operation: "
        f"{calls['operations']}; webhooks sent: {calls['webhooks_sent']}."
    )


def targets(results: dict[str, list[Measure]], calls_by_backend: dict[str, dict[str, Any]],
            rss: list[float]) -> list[tuple[str, bool, str]]:
    # Each route's best round counts, for the ceiling as for the routes: on a shared machine a
    # round that lands in a busy second (another guest's load) only ever makes a route slower, so
    # the best round is the closest to what the code costs. The portal's CPU time per request
    # (its best round too) is shown beside each verdict.
    checks: list[tuple[str, bool, str]] = []
    rps = {key: max((m.rps for m in runs), default=float("nan")) for key, runs in results.items()}
    cpu = {key: min((m.cpu_ms for m in runs), default=float("nan")) for key, runs in results.items()}

    def of_ceiling(key: str) -> float:
        return rps[key] / rps["minimal"]

    def change(key: str, other: str, values: dict[str, float]) -> float:
        """How much worse ``other`` is than ``key`` (a slower or costlier run); 0 when it is better.
        The targets guard against a slow issuer or many session files slowing the polls down."""
        worse = values[other] - values[key] if values is cpu else values[key] - values[other]
        return max(0.0, worse) / values[key]

    status = ("conn", "cred", "conn_slow", "cred_slow")
    lowest = min(status, key=of_ceiling)
    checks.append((f"status endpoints >= {STATUS_MIN_RATIO:.0%} of the minimal view",
                   of_ceiling(lowest) >= STATUS_MIN_RATIO,
                   f"lowest {of_ceiling(lowest):.0%} ({lowest}); by CPU per request "
                   f"{min(cpu['minimal'] / cpu[key] for key in status):.0%}"))
    drifts = [change(key, key + "_slow", rps) for key in ("conn", "cred")]
    checks.append((f"status endpoints no slower with 100 ms issuer latency (within {LATENCY_TOLERANCE:.0%})",
                   max(drifts) <= LATENCY_TOLERANCE,
                   f"slower by at most {max(drifts):.0%}; CPU per request up by at most "
                   f"{max(change(key, key + '_slow', cpu) for key in ('conn', 'cred')):.0%}"))
    checks.append((f"/ >= {START_MIN_RATIO:.0%} of the minimal view", of_ceiling("start") >= START_MIN_RATIO,
                   f"{of_ceiling('start'):.1%}; by CPU per request {cpu['minimal'] / cpu['start']:.1%}"))
    for backend, calls in calls_by_backend.items():
        per = calls.get("calls_per_registration")
        if backend == "acapy":
            checks.append((f"ACA-Py: <= {MAX_CALLS_PER_REGISTRATION} issuer calls per registration",
                           per is not None and per <= MAX_CALLS_PER_REGISTRATION
                           and calls["max_calls_one_registration"] <= MAX_CALLS_PER_REGISTRATION,
                           f"{per:.1f} on average, {calls['max_calls_one_registration']} at most" if per else "none completed"))
        else:
            gap = calls.get("min_check_gap_s")
            checks.append((f"agent-rest: state checks of one registration >= {MIN_CHECK_GAP_S} s apart",
                           per is not None and (gap is None or gap >= MIN_CHECK_GAP_S),
                           f"shortest gap {gap:.1f} s, {per:.1f} calls per registration" if gap and per else "no gap"))
    checks.append((f"worker RSS <= {MAX_WORKER_RSS_MB} MB", bool(rss) and max(rss) <= MAX_WORKER_RSS_MB,
                   f"largest {max(rss):.0f} MB" if rss else "no workers found"))
    many = [change(key + "_few", key + "_many", rps) for key in ("conn", "cred")]
    checks.append((f"status endpoints with {MANY_SESSIONS:,} session files within {SESSION_FILES_TOLERANCE:.0%}",
                   max(many) <= SESSION_FILES_TOLERANCE,
                   f"slower by at most {max(many):.0%}; CPU per request up by at most "
                   f"{max(change(key + '_few', key + '_many', cpu) for key in ('conn', 'cred')):.0%}"))
    return checks
