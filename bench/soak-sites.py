#!/usr/bin/env python3
"""Where the soak's memory sits (tests/soak/sites.rs): reads the site dumps of a run made with
KAFKIT_SOAK_SITES=N (target/soak/<time>/rss.txt.sites-*) and prints, per allocation site, the
estimated bytes alive (each recorded allocation stands for N bytes, or its size if larger)
in the first dump at or after the warm-up and in
the last one, sorted by growth, and how much of the last dump was allocated after the
warm-up and is older than two minutes (kept, not in flight).

    bench/soak-sites.py DIR [WARMUP-SECONDS] [EXECUTABLE]

EXECUTABLE: the soak binary that ran (by default the path the dumps name); pass a copy if
it has been rebuilt since, or the names will be wrong.
"""
import bisect, collections, glob, os, re, subprocess, sys

SKIP = re.compile(r"^(__rustc::|sites::|soak::sites|<soak::Counting|__rust_|__rdl_|alloc::|core::|std::|"
                  r"hashbrown::|<alloc::|<core::|<std::|<hashbrown::|_ZN|\?|backtrace|"
                  r"<bytes::bytes_mut|bytes::bytes_mut|<bytes::|bytes::|<T as |<Q as )")

def main():
    d = sys.argv[1]
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    dumps = []
    for path in glob.glob(os.path.join(d, "rss.txt.sites-*")):
        dumps.append(read(path))
    dumps.sort(key=lambda x: x["now"])
    exe = sys.argv[3] if len(sys.argv) > 3 else dumps[-1]["exe"]
    syms = symbols(exe)
    base = dumps[-1]["base"]
    names = {}
    def site(stack):
        key = tuple(stack)
        if key not in names:
            frames = [resolve(syms, ip - base) if ip >= base else "?" for ip in stack]
            own = [f for f in frames if not SKIP.match(f)]
            names[key] = " <- ".join(own[:4]) or " <- ".join(frames[:6])
        return names[key]
    def bysite(dump):
        out = collections.Counter()
        for stack, _, _, weight in dump["allocs"]:
            out[site(dump["stacks"][stack])] += weight
        return out
    # the dumps' clock starts with the process; the samples' with the load
    first = next((x for x in dumps if x["name"] >= warmup), dumps[0])
    last = dumps[-1]
    a, b = bysite(first), bysite(last)
    print(f"dumps: {len(dumps)}; compared: {first['name']} s and {last['name']} s (sample clock)")
    print(f"total (estimated): {sum(a.values())/1024:.0f} KiB -> {sum(b.values())/1024:.0f} KiB")
    print("growth by site (KiB at first, at last, delta):")
    rows = sorted(set(a) | set(b), key=lambda s: b[s] - a[s], reverse=True)
    for s in rows[:25]:
        print(f"  {a[s]/1024:8.1f} {b[s]/1024:8.1f} {(b[s]-a[s])/1024:+8.1f}  {s}")
    print("...shrinking:")
    for s in rows[-8:]:
        print(f"  {a[s]/1024:8.1f} {b[s]/1024:8.1f} {(b[s]-a[s])/1024:+8.1f}  {s}")
    offset = last["name"] - last["now"]
    kept = collections.Counter()
    for stack, _, secs, weight in last["allocs"]:
        t = secs + offset
        if t >= first["name"] and t <= last["name"] - 120:
            kept[site(last["stacks"][stack])] += weight
    print(f"allocated after {first['name']} s and still alive at {last['name']} s, older than "
          f"2 min: {sum(kept.values())/1024:.0f} KiB")
    for s, v in kept.most_common(25):
        print(f"  {v/1024:8.1f}  {s}")
    print("per dump, top growing sites (KiB):")
    top = rows[:6]
    for x in dumps:
        c = bysite(x)
        print(f"  {x['name']:5d} total {sum(c.values())/1024:7.0f} " +
              " ".join(f"{c[s]/1024:6.1f}" for s in top))

def read(path):
    dump = {"name": int(path.rsplit("-", 1)[1]), "stacks": {}, "allocs": [], "maps": []}
    for line in open(path):
        kind, _, rest = line.rstrip("\n").partition(" ")
        if kind == "now":
            dump["now"] = int(rest)
        elif kind == "map":
            dump["maps"].append(rest)
        elif kind == "stack":
            f = rest.split()
            dump["stacks"][int(f[0])] = [int(x, 16) for x in f[1:]]
        elif kind == "alloc":
            dump["allocs"].append(tuple(map(int, rest.split())))
    for m in dump["maps"]:
        f = m.split()
        if len(f) >= 6 and "/soak-" in f[5] and int(f[2], 16) == 0:
            dump["base"] = int(f[0].split("-")[0], 16)
            dump["exe"] = f[5]
            break
    return dump

def symbols(exe):
    out = subprocess.run(["nm", "-C", "--defined-only", exe], capture_output=True,
                         text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        f = line.split(" ", 2)
        if len(f) == 3 and f[1] in "tTwW":
            syms.append((int(f[0], 16), f[2]))
    syms.sort()
    return [s[0] for s in syms], [s[1] for s in syms]

def resolve(syms, addr):
    i = bisect.bisect_right(syms[0], addr - 1) - 1
    if i < 0:
        return "?"
    name = syms[1][i]
    return re.sub(r"::h[0-9a-f]{16}$", "", name)

main()
