#!/usr/bin/env python3
"""Summary of a scripts/gpu-check.sh run, rebuilt from its logs after every
stage (so a killed run still reports what finished).

  check_report.py LOGS OUT

LOGS: the check's log folder (stages.tsv, notes.txt, running, gpu.txt,
gpu-usage.csv and the stage logs). Writes OUT/summary.txt (per-stage table
and key figures) and OUT/results.json (the same, machine-readable), each
written aside and renamed. Figures whose stage did not run are reported as
missing, never guessed.
"""
import datetime
import json
import os
import re
import sys

TARGET_B1_MS = 1.0
TARGET_B32_FPS = 3000.0


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def stages_of(logs):
    rows = []
    for line in read(os.path.join(logs, "stages.tsv")).splitlines():
        parts = line.split("\t")
        if len(parts) < 5:
            continue
        name, status, start, secs, note = parts[:5]
        rows.append({"name": name, "status": status, "start_s": int(start or 0),
                     "seconds": int(secs or 0), "note": note.strip()})
    return rows


def gpu_usage(logs, t0, rows, running):
    """Peak memory and mean utilisation of the GPU during each stage."""
    samples = []
    for line in read(os.path.join(logs, "gpu-usage.csv")).splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3:
            continue
        try:
            ts = datetime.datetime.strptime(parts[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
            samples.append((ts - t0, float(parts[1]), float(parts[2])))
        except ValueError:
            continue
    spans = [(r, r["start_s"], r["start_s"] + r["seconds"]) for r in rows]
    if running:
        spans.append((running, running["since_s"], float("inf")))
    for r, a, b in spans:
        inside = [s for s in samples if a <= s[0] <= b + 1]
        if inside:
            r["gpu_peak_mib"] = max(s[1] for s in inside)
            r["gpu_util_mean"] = round(sum(s[2] for s in inside) / len(inside), 1)
    return max((s[1] for s in samples), default=None)


def results_of(text):
    """key=value pairs of the benchmark's RESULT lines."""
    out = {}
    for line in text.splitlines():
        if line.startswith("RESULT "):
            for k, v in re.findall(r"(\w+)=([-\d.]+)", line):
                out[k] = float(v)
    return out


def figures(logs):
    f = {}
    bench = read(os.path.join(logs, "bench.log"))
    r = results_of(bench)
    names = {"cuda_b1_p50_ms": "b1_p50_ms", "cuda_b1_p99_ms": "b1_p99_ms", "cuda_fps": "b1_fps",
             "cuda_streams_fps": "streams8_fps", "cuda_batch": "batch",
             "cuda_bn_p50_ms": "bn_p50_ms", "cuda_bn_p99_ms": "bn_p99_ms",
             "cuda_bn_fps": "bn_fps", "cuda_bn_fwd_fps": "bn_fwd_fps", "cuda_bn_mib": "bn_mib",
             "cuda_b1dev_p50_ms": "b1dev_p50_ms", "cuda_b1dev_p99_ms": "b1dev_p99_ms"}
    for k, v in r.items():
        if k in names:
            f[names[k]] = v
    m = re.search(r"device memory of one model[^:]*: (\d+) MiB", bench)
    if m:
        f["model_mib"] = float(m.group(1))
    m = re.search(r"baseline cpu \(same run\): p50 ([\d.]+) ms", bench)
    if m:
        f["cpu_p50_ms"] = float(m.group(1))
    try:
        t = json.loads(read(os.path.join(logs, "torch_bench.json")) or "null")
    except ValueError:
        t = None
    if isinstance(t, dict):
        for b, key in (("1", "torch_b1"), ("32", "torch_b32")):
            v = t.get(b)
            if isinstance(v, list) and len(v) >= 3:
                f[key + "_p50_ms"], f[key + "_p99_ms"], f[key + "_fps"] = v[:3]
                if len(v) >= 4:
                    f[key + "_peak_mib"] = v[3]
    if "torch_b1_p50_ms" in f and "b1_p50_ms" in f and f["b1_p50_ms"] > 0:
        f["ratio_b1_torch_over_ours"] = round(f["torch_b1_p50_ms"] / f["b1_p50_ms"], 2)
    if "torch_b32_fps" in f and "bn_fwd_fps" in f and f["torch_b32_fps"] > 0:
        f["ratio_b32_fwd_ours_over_torch"] = round(f["bn_fwd_fps"] / f["torch_b32_fps"], 2)
    pipe = read(os.path.join(logs, "pipeline", "summary.txt"))
    m = re.search(r"pipeline, 1 job: (\w+).*?NVDEC ([^,;]+)", pipe)
    if m:
        f["pipeline_one_job"] = m.group(1)
        f["nvdec"] = m.group(2).strip()
    for tag, key in (("time-sliced", "streams_time_sliced"), ("MPS", "streams_mps")):
        m = re.search(r"streams per GPU, %s \([^\n]*\): (.+)" % re.escape(tag), pipe)
        if m:
            f[key] = m.group(1).strip()
        elif re.search(r"streams per GPU, %s: (.+)" % re.escape(tag), pipe):
            f[key] = re.search(r"streams per GPU, %s: (.+)" % re.escape(tag), pipe).group(1)
    share = results_of(read(os.path.join(logs, "infer_share.log")))
    for k in ("copies_fps", "shared_fps"):
        if k in share:
            f["infer_share_" + k] = share[k]
    return f


def fmt(f, key, spec="{:.3f}", missing="n/a"):
    return spec.format(f[key]) if key in f else missing


def key_lines(f, status, peak, total_mib):
    def why(*stages):
        bad = [f"{s} {status.get(s, 'not reached')}" for s in stages
               if status.get(s) != "pass"]
        return f"n/a ({', '.join(bad)})" if bad else "n/a"

    out = []
    if "b1_p50_ms" in f:
        out.append(f"batch 1, 1080p NV12 -> detections: p50 {fmt(f, 'b1_p50_ms')} ms, p99 "
                   f"{fmt(f, 'b1_p99_ms')} ms (target p50 <= {TARGET_B1_MS:g} ms); "
                   f"{fmt(f, 'b1_fps', '{:.0f}')} frames/s back to back; 8 concurrent streams "
                   f"{fmt(f, 'streams8_fps', '{:.0f}')} frames/s")
    else:
        out.append(f"batch 1: {why('bench')}")
    if "b1dev_p50_ms" in f:
        out.append(f"batch 1 from a device NV12 frame (as NVDEC leaves it, no upload): p50 "
                   f"{fmt(f, 'b1dev_p50_ms')} ms, p99 {fmt(f, 'b1dev_p99_ms')} ms")
    if "bn_fps" in f:
        out.append(f"batch {f['batch']:.0f}: p50 {fmt(f, 'bn_p50_ms')} ms, p99 {fmt(f, 'bn_p99_ms')}"
                   f" ms per batch, {fmt(f, 'bn_fps', '{:.0f}')} frames/s end to end, forward only "
                   f"{fmt(f, 'bn_fwd_fps', '{:.0f}')} frames/s (target >= {TARGET_B32_FPS:.0f})")
    else:
        out.append(f"batch 32: {why('bench')}")
    if "torch_b1_p50_ms" in f:
        out.append(f"PyTorch FP16 (official, eager, forward only): batch 1 p50 "
                   f"{fmt(f, 'torch_b1_p50_ms')} ms, p99 {fmt(f, 'torch_b1_p99_ms')} ms; batch 32 "
                   f"{fmt(f, 'torch_b32_fps', '{:.0f}')} frames/s; peak VRAM "
                   f"{fmt(f, 'torch_b1_peak_mib', '{:.0f}')} / "
                   f"{fmt(f, 'torch_b32_peak_mib', '{:.0f}')} MiB")
    else:
        out.append(f"PyTorch FP16: {why('torch')}")
    out.append(f"ratio: batch 1 p50 PyTorch / ours {fmt(f, 'ratio_b1_torch_over_ours', '{:.2f}x')}"
               f"; batch 32 forward ours / PyTorch "
               f"{fmt(f, 'ratio_b32_fwd_ours_over_torch', '{:.2f}x')}")
    gpu = f"{peak:.0f} of {total_mib} MiB" if peak is not None else "n/a (no nvidia-smi samples)"
    out.append(f"VRAM: one model {fmt(f, 'model_mib', '{:.0f}')} MiB, batch-32 model "
               f"{fmt(f, 'bn_mib', '{:.0f}')} MiB; GPU peak during the check {gpu}")
    out.append(f"NVDEC: {f.get('nvdec', why('pipeline'))}")
    out.append(f"streams per GPU (1080p30 in, 720p out, every job >= 30 fps): time-sliced "
               f"{f.get('streams_time_sliced', why('streams'))}; MPS "
               f"{f.get('streams_mps', why('streams'))}")
    if "infer_share_shared_fps" in f:
        out.append(f"shared inference, 8 clients: {fmt(f, 'infer_share_shared_fps', '{:.0f}')} "
                   f"frames/s vs 8 model copies {fmt(f, 'infer_share_copies_fps', '{:.0f}')}")
    if "cpu_p50_ms" in f:
        out.append(f"CPU engine, same run: p50 {fmt(f, 'cpu_p50_ms', '{:.1f}')} ms")
    return out


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    logs, out = argv[1], argv[2]
    t0 = float(read(os.path.join(logs, "t0")).strip() or 0)
    rows = stages_of(logs)
    running = None
    run = read(os.path.join(logs, "running")).split()
    if len(run) == 2:
        running = {"name": run[0], "since_s": int(run[1])}
    peak = gpu_usage(logs, t0, rows, running) if t0 else None
    gpu = [line for line in read(os.path.join(logs, "gpu.txt")).splitlines() if line.strip()]
    gpu_line = gpu[-1] if gpu else "?"
    m = re.search(r",\s*(\d+) MiB", gpu_line)
    total_mib = m.group(1) if m else "?"
    f = figures(logs)
    status = {r["name"]: r["status"] for r in rows}
    notes = [n for n in read(os.path.join(logs, "notes.txt")).splitlines() if n.strip()]

    lines = [f"GPU check: {gpu_line}"]
    lines.append(f"{'stage':<20} {'status':<8} {'start':>6} {'secs':>5} {'GPU MiB':>8}  note")
    for r in rows:
        mib = f"{r['gpu_peak_mib']:.0f}" if "gpu_peak_mib" in r else "-"
        lines.append(f"{r['name']:<20} {r['status']:<8} {r['start_s']:>6} {r['seconds']:>5} "
                     f"{mib:>8}  {r['note']}")
    if running:
        lines.append(f"RUNNING: {running['name']} since {running['since_s']} s (still running, "
                     "or the check was killed during it)")
    counts = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    lines.append("stages: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    lines.append("")
    lines.append("key figures")
    lines += ["  " + s for s in key_lines(f, status, peak, total_mib)]
    pipe = [s for s in read(os.path.join(logs, "pipeline", "summary.txt")).splitlines() if s]
    if pipe:
        lines += ["", "pipeline and streams"] + ["  " + s for s in pipe]
    prof = re.findall(r"cuda profile:[^\"\n]*", read(os.path.join(logs, "profile.log")))
    if prof:
        lines += ["", "profile (blocks in order: --streams 1 model, batch 32, batch 1)"]
        lines += ["  " + s for s in prof]
    share = [s for s in read(os.path.join(logs, "infer_share.log")).splitlines()
             if re.match(r"(copies|shared|server|ratio)", s)]
    if share:
        lines += ["", "shared inference"] + ["  " + s for s in share]
    if notes:
        lines += ["", "notes"] + ["  " + s for s in notes]

    result = {"t0": t0, "finished": any("check finished" in n for n in notes),
              "running": running, "stages": rows, "figures": f, "gpu": gpu_line,
              "gpu_peak_mib": peak, "notes": notes}
    for name, text in (("summary.txt", "\n".join(lines) + "\n"),
                       ("results.json", json.dumps(result, indent=1) + "\n")):
        tmp = os.path.join(out, "." + name + ".tmp")
        with open(tmp, "w") as fh:
            fh.write(text)
        os.replace(tmp, os.path.join(out, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
