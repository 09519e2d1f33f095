#!/usr/bin/env python3
"""Summarises `football-tracker batch --log-format json` logs for
scripts/gpu/pipeline-streams.sh.

  pipeline_report.py one LOG RC OUTPUT FRAMES
      one job: exit code, output file, frame count, fps, NVDEC, encoder
  pipeline_report.py round DIR K TAG FRAMES MIN_FPS [THREADS]
      K concurrent jobs (DIR/i.log, DIR/i.rc, i = 1..K): per-job fps and
      whether every job kept MIN_FPS; with DIR/i.cpu (bash `times` of the
      job's subshell) the jobs' CPU ms per frame, with DIR/host.cpu ("busy0
      total0 busy1 total1 cores" from /proc/stat) how busy the host was;
      THREADS labels the jobs' encoder/decoder threads

Prints one summary line (plus detail lines); exit status 0 when the job or
every job of the round succeeded (and, for a round, held MIN_FPS).
"""
import datetime
import json
import os
import re
import statistics
import sys

DONE = re.compile(
    r"(\d+) frames in ([\d.]+) s \(([\d.]+) fps\); per frame: decode ([\d.]+) ms, "
    r"detect ([\d.]+) ms, track ([\d.]+) ms, render ([\d.]+) ms, encode ([\d.]+) ms; "
    r"(\d+) detections")
READING = re.compile(r"reading .*: (\S+) (\d+)x(\d+) [\d.]+ fps(.*)")
WRITING = re.compile(r"writing .*: (\S+) (\d+)x(\d+)")
# libavcodec's words when the NVDEC set-up fails and it decodes in software
HW_FAIL = ("Failed setup for format cuda", "hwaccel initialisation returned error")
STAGES = ("decode", "detect", "track", "render", "encode")
ZERO_COPY = re.compile(r"zero-copy: (\d+) frames went to the detector as NVDEC surfaces")


def parse(path):
    job = {"errors": [], "hw_fail": False, "nvdec": None, "encoder": None, "done": None,
           "zero_copy": None}
    try:
        lines = open(path, errors="replace").read().splitlines()
    except OSError as e:
        job["errors"].append(str(e))
        return job
    for line in lines:
        if not line.startswith("{"):
            if line.strip():
                job["errors"].append(line.strip())
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        msg = rec.get("msg", "")
        if any(s in msg for s in HW_FAIL):
            job["hw_fail"] = True
        m = READING.search(msg)
        if m and rec.get("module") == "io":
            job["nvdec"] = "NVDEC" in m.group(4)
        m = ZERO_COPY.search(msg)
        if m and rec.get("module") == "pipeline":
            job["zero_copy"] = int(m.group(1))
        m = WRITING.search(msg)
        if m and rec.get("module") == "io":
            job["encoder"] = f"{m.group(1)} {m.group(2)}x{m.group(3)}"
        m = DONE.search(msg)
        if m and rec.get("module") == "batch":
            end = datetime.datetime.fromisoformat(rec["ts"].replace("Z", "+00:00")).timestamp()
            el = float(m.group(2))
            job["done"] = {"frames": int(m.group(1)), "elapsed": el, "fps": float(m.group(3)),
                           "start": end - el, "end": end, "detections": int(m.group(9)),
                           **{s: float(m.group(4 + i)) for i, s in enumerate(STAGES)}}
        if rec.get("level") == "error":
            job["errors"].append(msg)
    return job


def stage_text(d):
    return ", ".join(f"{s} {d[s]:.2f}" for s in STAGES) + " ms/frame"


def one(log, rc, output, frames):
    job = parse(log)
    d = job["done"]
    size = os.path.getsize(output) if os.path.exists(output) else 0
    ok = rc == 0 and size > 0 and d is not None and d["frames"] == frames
    nvdec = ("no (libavcodec fell back to software decoding)" if job["hw_fail"]
             else {True: "yes", False: "no", None: "?"}[job["nvdec"]])
    if d:
        print(f"pipeline, 1 job: {'ok' if ok else 'FAILED'} (exit {rc}, output {size} bytes, "
              f"{d['frames']}/{frames} frames) at {d['fps']:.1f} fps; NVDEC {nvdec}, encoder "
              f"{job['encoder']}; {stage_text(d)}; {d['detections']} detections; zero-copy "
              f"{'no' if job['zero_copy'] is None else str(job['zero_copy']) + ' frames'}")
    else:
        print(f"pipeline, 1 job: FAILED (exit {rc}, output {size} bytes, no completion line)")
    for e in job["errors"][:5]:
        print(f"  error: {e}")
    return 0 if ok else 1


TIMES = re.compile(r"(\d+)m([\d.]+)s")


def job_cpu_s(path):
    """User + system seconds of a job: the children's line of bash `times`."""
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return None
    if len(lines) < 2:
        return None
    t = TIMES.findall(lines[1])
    return sum(int(m) * 60 + float(s) for m, s in t) if len(t) == 2 else None


def host_text(folder, good, frames):
    """'CPU x ms/frame per job, host y % busy of n cores', or ''."""
    parts = []
    cpu = [c for c in (job_cpu_s(os.path.join(folder, f"{j['index']}.cpu")) for j in good)
           if c is not None]
    if cpu:
        parts.append(f"CPU {statistics.median(cpu) * 1000 / frames:.1f} ms/frame per job "
                     f"(median, model load included)")
    try:
        b0, t0, b1, t1, cores = (int(x) for x in open(os.path.join(folder, "host.cpu")).read().split())
        if t1 > t0:
            parts.append(f"host {100.0 * (b1 - b0) / (t1 - t0):.0f} % busy of {cores} cores")
    except (OSError, ValueError):
        pass
    return "; ".join(parts)


def round_(folder, k, tag, frames, min_fps, threads=None):
    jobs = []
    for i in range(1, k + 1):
        job = parse(os.path.join(folder, f"{i}.log"))
        job["index"] = i
        try:
            job["rc"] = int(open(os.path.join(folder, f"{i}.rc")).read())
        except (OSError, ValueError):
            job["rc"] = -1
        jobs.append(job)
    good = [j for j in jobs if j["rc"] == 0 and j["done"] and j["done"]["frames"] == frames]
    head = f"streams K={k}, {tag}" + (f", threads per job {threads}:" if threads else ":")
    if not good:
        print(f"{head} no job completed")
        for j in jobs[:3]:
            print(f"  exit {j['rc']}: {'; '.join(j['errors'][:2])}")
        return 1
    fps = sorted(j["done"]["fps"] for j in good)
    # the time during which all K ran, as a share of the mean run
    common = min(j["done"]["end"] for j in good) - max(j["done"]["start"] for j in good)
    mean_run = statistics.mean(j["done"]["elapsed"] for j in good)
    overlap = max(0.0, common) / mean_run if mean_run > 0 else 0.0
    med = {s: statistics.median(j["done"][s] for j in good) for s in STAGES}
    nvdec = sum(1 for j in good if j["nvdec"] and not j["hw_fail"])
    held = len(good) == k and fps[0] >= min_fps
    # Jobs load their models at different speeds: a job that ran partly
    # alone is faster than it would be among all K.
    caveat = "" if overlap >= 0.8 else " (overlap < 80 %: optimistic)"
    print(f"{head} {len(good)}/{k} jobs completed, fps per job min {fps[0]:.1f} / median "
          f"{statistics.median(fps):.1f} / max {fps[-1]:.1f} (sum {sum(fps):.0f}), overlap "
          f"{overlap:.0%}; median {stage_text(med)}; NVDEC {nvdec}/{len(good)}; "
          f"{good[0]['encoder']} -> {'holds' if held else 'does NOT hold'} {min_fps:g} fps{caveat}")
    host = host_text(folder, good, frames)
    if host:
        print(f"  {host}")
    for j in jobs:
        if j not in good:
            print(f"  failed job: exit {j['rc']}: {'; '.join(j['errors'][:2])}")
            break
    return 0 if held else 1


def main(argv):
    if len(argv) == 6 and argv[1] == "one":
        return one(argv[2], int(argv[3]), argv[4], int(argv[5]))
    if len(argv) in (7, 8) and argv[1] == "round":
        return round_(argv[2], int(argv[3]), argv[4], int(argv[5]), float(argv[6]),
                      argv[7] if len(argv) == 8 else None)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
