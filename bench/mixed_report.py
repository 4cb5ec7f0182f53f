"""Tables of the mixed workload (``bench/mixed.py``): derived numbers, markdown, README.

Per-job CPU is split with the single-path phases: create and retrieve CPU per request and
the download CPU of each kind (weighted by the mix) are subtracted from the busy phase's
CPU per job, as is the server's quiet CPU rate over the phase; what is left is the
background work (the gateway's poller and archiver). For a target with no background work
(the simulator, LiteLLM) that remainder shows how far the split can be trusted: requests
at the busy phase's concurrency and on running jobs cost a little more or less than the
same requests alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

BEGIN, END = "<!-- mixed:begin -->", "<!-- mixed:end -->"


def derive(run: dict[str, Any], mix: dict[str, int]) -> dict[str, Any]:
    """Per-job CPU and its split, p99 ratios busy/idle."""
    busy, single = run["busy"], run["single"]
    completed = busy["jobs"].get("completed", 0)
    out: dict[str, Any] = {"completed": completed}
    if not completed:
        return out
    total = busy["cpu_s"] * 1000 / completed
    weights = {name: w / sum(mix.values()) for name, w in mix.items()}
    create = single["create"]["cpu_ms_per_req"]
    retrieve = single["retrieve"]["cpu_ms_per_req"]
    polls = busy["polls_per_job"]
    download = sum(w * single[f"download {n}"]["cpu_ms_per_req"] for n, w in weights.items())
    timers = run["quiet_cpu_ms_per_s"] * busy["wall_s"] / completed
    out |= {
        "cpu_ms_per_job": total,
        "create_ms": create,
        "retrieve_ms": retrieve,
        "polls_per_job": polls,
        "polls_ms": polls * retrieve,
        "download_ms": download,
        "timers_ms": timers,
        "background_ms": total - create - polls * retrieve - download - timers,
    }
    for label in ("create", "retrieve"):
        idle = run["idle"]["latency_ms"].get(label, {}).get("p99", 0.0)
        hot = busy["latency_ms"].get(label, {}).get("p99", 0.0)
        out[f"{label}_p99_ratio"] = hot / idle if idle else 0.0
    return out


def brief(run: dict[str, Any]) -> str:
    d, busy = run["derived"], run["busy"]
    if "cpu_ms_per_job" not in d:
        return f"no job completed: {busy['jobs']} errors {busy['errors']}"
    lat = busy["latency_ms"]
    return (
        f"{d['completed']}/{busy['planned_jobs']} jobs, {d['cpu_ms_per_job']:.1f} ms CPU/job, "
        f"create p99 {lat.get('create', {}).get('p99', 0):.1f} ms, retrieve p99 "
        f"{lat.get('retrieve', {}).get('p99', 0):.1f} ms, errors {sum(busy['errors'].values())}"
    )


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _pair(lat: dict[str, Any], label: str) -> str:
    entry = lat.get(label)
    if not entry or not entry.get("n"):
        return "-"
    return f"{_ms(entry['p50'])} / {_ms(entry['p99'])}"


def _idle_busy(run: dict[str, Any], label: str) -> str:
    return f"{_pair(run['idle']['latency_ms'], label)} → {_pair(run['busy']['latency_ms'], label)}"


def _errors(run: dict[str, Any]) -> str:
    total = sum(run["idle"]["errors"].values()) + sum(run["busy"]["errors"].values())
    if not total:
        return "0"
    worst = max({**run["idle"]["errors"], **run["busy"]["errors"]}.items(), key=lambda i: i[1])
    return f"**{total}** (most: {worst[0]} x{worst[1]})"


def _rows(mix: dict[str, int]) -> list[tuple[str, Any]]:
    """(row label, function of a run -> cell)."""
    kinds = list(mix)
    first = kinds[0]

    def d(key: str, fmt: str = "{:.1f}") -> Any:
        return lambda r: fmt.format(r["derived"][key]) if key in r["derived"] else "-"

    rows: list[tuple[str, Any]] = [
        ("jobs completed / created", lambda r: _jobs(r)),
        ("errors (idle + busy)", _errors),
        ("**CPU per job, ms** (server + children)", d("cpu_ms_per_job", "**{:.1f}**")),
        ("↳ create (c=1 alone)", d("create_ms", "{:.2f}")),
        ("↳ polls (n x retrieve alone)", lambda r: _polls(r)),
        ("↳ download (mix-weighted, c=1 alone)", d("download_ms")),
        ("↳ timers (quiet CPU rate x phase)", d("timers_ms")),
        ("↳ background: poller + archive (rest)", d("background_ms")),
        ("create p50 / p99 ms, idle → busy", lambda r: _idle_busy(r, "create")),
        ("retrieve p50 / p99 ms, idle → busy", lambda r: _idle_busy(r, "retrieve")),
        ("p99 busy / idle: create, retrieve", lambda r: _ratios(r)),
        ("client stalls ≥ 10 ms, idle → busy: n / max ms", lambda r: _stalls(r)),
    ]
    for name in kinds:
        label = f"download {name}"
        rows.append((f"{label} p50 / p99 ms, idle → busy", lambda r, lb=label: _idle_busy(r, lb)))
    rows += [
        (f"download MiB/s: {first} c=1 alone / busy median", lambda r: _mib(r, first)),
        ("create → completed p50 / p99 s (busy)", lambda r: _to_completed(r)),
        ("backlog drain after the last create, s", lambda r: f"{r['busy']['drain_s']:.1f}"),
        ("peak RSS MiB: server / largest child / tree", lambda r: _memory(r)),
        ("start-up s", lambda r: f"{r['startup_s']:.1f}"),
    ]
    return rows


def _jobs(run: dict[str, Any]) -> str:
    jobs = run["busy"]["jobs"]
    extra = ", ".join(f"{k} {v}" for k, v in jobs.items() if k != "completed")
    text = f"{jobs.get('completed', 0)} / {run['busy']['planned_jobs']}"
    return f"{text} ({extra})" if extra else text


def _polls(run: dict[str, Any]) -> str:
    d = run["derived"]
    if "polls_ms" not in d:
        return "-"
    return f"{d['polls_ms']:.1f} ({d['polls_per_job']:.1f} x {d['retrieve_ms']:.2f})"


def _ratios(run: dict[str, Any]) -> str:
    d = run["derived"]
    if "create_p99_ratio" not in d:
        return "-"
    return f"{d['create_p99_ratio']:.1f}x, {d['retrieve_p99_ratio']:.1f}x"


def _stalls(run: dict[str, Any]) -> str:
    """The load generator's own loop stalls (``bench/mixed_load.py``): a tail measured while
    the client stalled is the client's, not the server's."""

    def one(phase: dict[str, Any]) -> str:
        found = phase.get("client_stalls")
        return f"{found['count']} / {found['max_ms']:.0f}" if found else "-"

    return f"{one(run['idle'])} → {one(run['busy'])}"


def _mib(run: dict[str, Any], name: str) -> str:
    alone = run["single"].get(f"download {name}", {}).get("mib_s", 0.0)
    busy = run["busy"]["download_mib_s"]
    return f"{alone:.0f} / {busy['p50']:.0f}" if busy.get("n") else f"{alone:.0f} / -"


def _to_completed(run: dict[str, Any]) -> str:
    s = run["busy"]["to_completed_s"]
    return f"{s['p50']:.2f} / {s['p99']:.2f}" if s.get("n") else "-"


def _memory(run: dict[str, Any]) -> str:
    m = run["memory"]
    child = f"{m['children_max_hwm_mib']:.0f}" if m["children"] else "-"
    return f"{m['server_hwm_mib']:.0f} / {child} / {m['tree_peak_rss_mib']:.0f}"


def table(runs: list[dict[str, Any]], mix: dict[str, int]) -> str:
    ok = [r for r in runs if "failed" not in r]
    lines = [
        "| | " + " | ".join(r["label"] for r in ok) + " |",
        "|---|" + "---|" * len(ok),
    ]
    for label, cell in _rows(mix):
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in ok) + " |")
    for failed in (r for r in runs if "failed" in r):
        lines.append(f"\n{failed['label']}: **failed**: {failed['failed'][:300]}")
    return "\n".join(lines)


def render(results: dict[str, Any]) -> str:
    plan, machine = results["plan"], results["machine"]
    mix = plan["mix"]
    files = ", ".join(f"{n} {b / 1e6:.2f} MB" for n, b in results["files"].items())
    litellm = results.get("litellm")
    peer = ""
    if litellm:
        peer = f"; LiteLLM {litellm.get('litellm')}"
        if litellm.get("notes"):
            peer += " (" + "; ".join(litellm["notes"]) + ")"
    head = (
        f"Run **{plan['name']}**, {results['date']}, {machine['cores']} cores ({machine['cpu']}),"
        f" load average at start {' '.join(machine['load'])}; {plan['rate']:g} creates/s for "
        f"{plan['busy_s']:.0f} s (idle phase {plan['idle_s']:.0f} s), mix "
        f"{', '.join(f'{k} x{v}' for k, v in mix.items())}, clients poll every "
        f"{plan['poll_ms']} ms, upstream jobs take {plan['job_seconds']:g} s; files: {files}"
        f"{peer}; whole run {results.get('duration_s', 0) / 60:.0f} min."
    )
    parts = [head]
    for pinned, title in ((True, "Server pinned to core 1"), (False, "Unpinned")):
        runs = [r for r in results["runs"] if r["pinned"] is pinned]
        if runs:
            parts.append(f"#### {title}\n\n{table(runs, mix)}")
    return "\n\n".join(parts)


def write_readme(readme: Path, tables: str) -> None:
    text = readme.read_text()
    section = f"{BEGIN}\n{tables}\n{END}"
    if BEGIN in text and END in text:
        start, end = text.index(BEGIN), text.index(END) + len(END)
        text = text[:start] + section + text[end:]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    readme.write_text(text)
