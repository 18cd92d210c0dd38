#!/usr/bin/env python3
# tests/peers/procmon.py --out STATS.json [--interval S] -- CMD ARGS...
# Runs CMD in a process group of its own and samples its process tree
# (/proc) every --interval seconds (default 0.05) until CMD exits: the peak RSS
# of each process (VmHWM, the kernel's own high-water mark), its CPU time
# (utime + stime), and its name.  Writes one JSON object to STATS.json:
#   {"exit": N, "start_us": ..., "end_us": ..., "wall_s": ...,
#    "cpu_s": CPU of the whole tree (the last sample of each process, or the
#             children's rusage when larger),
#    "peak_rss_kib": the sum over the tree's processes of their peaks (for
#             Spark: the Python driver and its JVM; processes that lived
#             under a second are left out, see below),
#    "by_name": {"java": peak KiB, "python3": ...}}
# SIGTERM/SIGINT are passed on to CMD; what is left of its group when it
# exits is killed.  CMD's stdout/stderr are its own.
import json
import os
import resource
import signal
import subprocess
import sys
import time

args = sys.argv[1:]
out = None
interval = 0.05
while args and args[0] != "--":
    if args[0] == "--out":
        out = args[1]; args = args[2:]
    elif args[0] == "--interval":
        interval = float(args[1]); args = args[2:]
    else:
        sys.exit("procmon: unknown option " + args[0])
cmd = args[1:]
if not out or not cmd:
    sys.exit("usage: procmon.py --out FILE [--interval S] -- CMD...")

TICK = os.sysconf("SC_CLK_TCK")

def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(")") + 2:].split()
        kids.setdefault(int(rest[1]), []).append(int(d))
    return kids

def tree(root):
    kids = children_map()
    todo, seen = [root], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(kids.get(p, []))
    return seen

# Per process, keyed by (pid, start time): a pid the kernel reuses is another process.
peak, cpu, names, first, last = {}, {}, {}, {}, {}
def sample(root):
    now = time.time()
    for pid in tree(root):
        try:
            with open("/proc/%d/stat" % pid) as f:
                s = f.read()
            with open("/proc/%d/status" % pid) as f:
                st = f.read()
        except OSError:
            continue
        name = s[s.find("(") + 1:s.rfind(")")]
        rest = s[s.rfind(")") + 2:].split()
        p = (pid, int(rest[19]))
        cpu[p] = (int(rest[11]) + int(rest[12])) / TICK
        names[p] = name
        first.setdefault(p, now)
        last[p] = now
        for line in st.splitlines():
            if line.startswith("VmHWM:"):
                peak[p] = max(peak.get(p, 0), int(line.split()[1]))

start = time.time()
child = subprocess.Popen(cmd, start_new_session=True)
def fwd(signum, frame):
    # To CMD itself, not its group: Spark's driver stops its query and its JVM
    # in order (a JVM killed under it loses the final numbers).
    try:
        os.kill(child.pid, signum)
    except OSError:
        pass
signal.signal(signal.SIGTERM, fwd)
signal.signal(signal.SIGINT, fwd)
while child.poll() is None:
    sample(child.pid)
    time.sleep(interval)
end = time.time()
# Leftovers of the group (a JVM its driver did not wait for).
try:
    os.killpg(child.pid, signal.SIGKILL)
except OSError:
    pass
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
# A process seen for less than a second is left out of the peak: the JVM
# forks helpers (chmod, getconf, ...) whose copy of its memory shows in their
# VmHWM until they exec (their CPU time is counted).
by_name = {}
for p, kib in list(peak.items()):
    if last[p] - first[p] < 1.0 and p[0] != child.pid:
        del peak[p]
        continue
    by_name[names[p]] = by_name.get(names[p], 0) + kib
res = {"exit": child.returncode, "start_us": int(start * 1e6), "end_us": int(end * 1e6),
       "wall_s": end - start, "cpu_s": max(sum(cpu.values()), ru.ru_utime + ru.ru_stime),
       "peak_rss_kib": sum(peak.values()), "by_name": by_name}
with open(out, "w") as f:
    json.dump(res, f)
sys.exit(child.returncode if child.returncode >= 0 else 128 - child.returncode)
