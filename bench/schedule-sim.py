#!/usr/bin/python3
"""bench/schedule-sim.py: infbench's MPI schedule (src/par/sched.c) simulated on the group
costs a run measured (issue #13 §5), to validate the simulation against measured runs and
then predict the efficiency on many ranks.

The schedule: a job's groups are handed out in index order, each to whichever rank frees
first (rank 0 computes groups too); jobs run one after another with a barrier between
them.  A run's DIR/schedule.log records, per group, the rank, its seconds on that rank and
its start (seconds after the job began, rank 0's clock).

Validation: for each job of each run given, the simulation replays the job's groups on the
run's number of ranks with their own measured seconds (plus the per-group dispatch
overhead on ranks other than 0, plus the job's measured setup: the start of its first
group, i.e. sending the job's context), and compares the simulated makespan with the
measured one, max over groups of start + seconds.

Prediction: each phase of the VAE gap report (L[q], q*, IWAE with both proposals, AIS)
measured in the cost run (--costs) gives a per-point cost for each of its groups (the
group's seconds over its points; for AIS over its padded tile slots, since a partial tile
costs a whole one).  For P points, per-point costs are drawn from those with replacement
(bootstrap), the P points are cut into groups as infbench cuts them (L[q], q*, IWAE:
ceil(P / 20) points rounded up to a multiple of [qstar] batch_points; AIS: [ais]
tile_points times the threads of rank 0), and the schedule is simulated on N ranks:
efficiency = total work / (N x makespan).  The evaluation as a whole is the phases one
after another (the barrier), plus the cost run's time outside the jobs (its
evaluation_seconds less its jobs' makespans: figures, files, the report's sums) as serial
time, as measured (it hardly depends on the points).

Protocol: AIS's per-point cost scaled by the ratio of chain transitions
((chains + pilot_chains) x temperatures x leapfrog; pilot chains only with adapt = pilot)
between the protocol's settings and the cost run's config.ini, then its points on each
split scheduled in turn on N ranks: the wall-clock time and the core-hours.

Reads: DIR/schedule.log, DIR/config.ini (the resolved configuration infbench writes) and
DIR/results.json; Python's standard library only.
"""

import argparse
import heapq
import json
import math
import os
import random
import statistics
import sys

PROGRESS_GROUPS = 20  # src/exp/runlatent.c: the gap report's progress groups per split
VAE_PHASES = ["L[q]", "q*", "IWAE (encoder)", "IWAE (q*)", "AIS"]


# ------------------------------------------------------------------ reading a run


class Job:
    """One job of a schedule log: its name, its ranks and its groups, in index order."""

    def __init__(self, name, ranks):
        self.name = name
        self.ranks = ranks
        self.groups = []  # (group, rank, seconds, start)

    @property
    def phase(self):
        return self.name.rsplit(": ", 1)[-1]

    @property
    def split(self):
        head = self.name.rsplit(": ", 1)[0]
        return head.rsplit(", ", 1)[-1] if ", " in head else ""

    def complete(self):
        return all(r >= 0 for _, r, _, _ in self.groups)

    def work(self):
        return sum(s for _, _, s, _ in self.groups)

    def measured(self):
        return max(st + s for _, _, s, st in self.groups)

    def setup(self):
        return min(st for _, _, _, st in self.groups)


def read_log(path):
    jobs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 6:
                sys.exit(f"schedule-sim: {path}:{n}: expected 6 tab-separated fields, got {len(parts)}")
            name, g, r, s, st, N = parts
            try:
                g, r, s, st, N = int(g), int(r), float(s), float(st), int(N)
            except ValueError:
                sys.exit(f"schedule-sim: {path}:{n}: not a schedule log line: {line!r}")
            j = jobs[-1] if jobs else None
            # A new job: another name, another number of ranks, or the numbering restarts.
            if j is None or j.name != name or j.ranks != N or g <= j.groups[-1][0]:
                j = Job(name, N)
                jobs.append(j)
            j.groups.append((g, r, s, st))
    return jobs


def read_ini(path):
    """The resolved config.ini: {section: {key: value}}, and the '# threads: N' header."""
    cfg, sec, threads = {}, None, None
    if not os.path.exists(path):
        return cfg, threads
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("# threads:"):
                threads = int(line.split(":", 1)[1])
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                sec = line[1:-1].strip()
                cfg.setdefault(sec, {})
            elif "=" in line and sec is not None:
                k, v = line.split("=", 1)
                cfg[sec][k.strip()] = v.strip()
    return cfg, threads


class Run:
    def __init__(self, arg):
        if os.path.isdir(arg):
            self.dir, log = arg, os.path.join(arg, "schedule.log")
        else:
            self.dir, log = os.path.dirname(arg) or ".", arg
        if not os.path.exists(log):
            sys.exit(f"schedule-sim: {log}: no such file")
        self.name = arg
        self.jobs = read_log(log)
        if not self.jobs:
            sys.exit(f"schedule-sim: {log}: no groups")
        self.ranks = self.jobs[0].ranks
        self.cfg, self.threads = read_ini(os.path.join(self.dir, "config.ini"))
        self.eval_seconds = None
        try:
            with open(os.path.join(self.dir, "results.json"), encoding="utf-8") as f:
                res = json.load(f)
            ests = res.get("estimators", {})
            vals = [e.get("evaluation_seconds") for e in ests.values() if isinstance(e, dict)]
            vals = [v for v in vals if isinstance(v, (int, float))]
            self.eval_seconds = sum(vals) if vals else None
            # The threads of the session that wrote the log (config.ini's header keeps
            # those of the run's first session).
            t = res.get("program", {}).get("threads")
            if isinstance(t, int) and t > 0:
                self.threads = t
        except (OSError, ValueError):
            pass

    def get(self, sec, key, default=None):
        return self.cfg.get(sec, {}).get(key, default)


# ------------------------------------------------------------------ the schedule


def simulate(costs, N, overhead, ranks=None):
    """Makespan of groups with these costs handed out in order to whichever of N ranks
    frees first (ties: the lowest rank); a rank other than 0 waits `overhead` seconds for
    each group it is handed (the result's and the next task's messages, the polling).
    When `ranks` is a list, the rank of each group is appended to it."""
    free = [(0.0, r) for r in range(N)]
    heapq.heapify(free)
    end = 0.0
    for c in costs:
        t, r = heapq.heappop(free)
        t += (overhead if r > 0 else 0.0) + c
        end = max(end, t)
        heapq.heappush(free, (t, r))
        if ranks is not None:
            ranks.append(r)
    return end


def dispatch_gaps(runs):
    """Seconds between a rank's (> 0) group ending and its next group being handed out,
    over the jobs of runs on several ranks."""
    gaps = []
    for run in runs:
        for j in run.jobs:
            if j.ranks < 2 or not j.complete():
                continue
            by_rank = {}
            for _, r, s, st in sorted(j.groups, key=lambda x: x[3]):
                if r > 0:
                    by_rank.setdefault(r, []).append((st, s))
            for seq in by_rank.values():
                for (a, s), (b, _) in zip(seq, seq[1:]):
                    gaps.append(b - (a + s))
    return gaps


# ------------------------------------------------------------------ validation


def validate(runs, overhead):
    print(f"\nvalidation: each job replayed on its run's ranks with its own group times; "
          f"dispatch overhead {overhead * 1e3:.2f} ms per group on ranks > 0; setup = the job's "
          f"first start (its context sent), added to the replay")
    grand_m = grand_s = 0.0
    for run in runs:
        print(f"\n{run.name}: {run.ranks} rank(s), {len(run.jobs)} jobs")
        print(f"{'job':<34} {'groups':>6} {'work s':>9} {'setup s':>8} {'measured s':>10} "
              f"{'simulated s':>11} {'sim/meas':>8} {'eff':>6} {'same rank':>9}")
        tm = ts = tw = 0.0
        for j in run.jobs:
            if not j.complete():
                print(f"{j.name:<34} {len(j.groups):>6}  (stopped before every group ran: left out)")
                continue
            costs = [s for _, _, s, _ in sorted(j.groups)]
            m = j.measured()
            got = []
            s = j.setup() + simulate(costs, j.ranks, overhead, got)
            same = sum(a == r for a, (_, r, _, _) in zip(got, sorted(j.groups)))
            w = j.work()
            tm, ts, tw = tm + m, ts + s, tw + w
            print(f"{j.name[:34]:<34} {len(costs):>6} {w:>9.3f} {j.setup():>8.3f} {m:>10.3f} "
                  f"{s:>11.3f} {100 * (s / m - 1) if m > 0 else 0:>+7.1f}% "
                  f"{100 * w / (j.ranks * m) if m > 0 else 0:>5.1f}% {f'{same}/{len(costs)}':>9}")
        print(f"{'total (jobs in turn)':<34} {'':>6} {tw:>9.3f} {'':>8} {tm:>10.3f} {ts:>11.3f} "
              f"{100 * (ts / tm - 1) if tm > 0 else 0:>+7.1f}% {100 * tw / (run.ranks * tm) if tm > 0 else 0:>5.1f}%")
        if run.eval_seconds is not None:
            print(f"evaluation_seconds (results.json) {run.eval_seconds:.3f} s: "
                  f"{run.eval_seconds - tm:.3f} s outside the jobs' makespans "
                  f"(serial work, the jobs' ends and barriers)")
        grand_m, grand_s = grand_m + tm, grand_s + ts
    if len(runs) > 1 and grand_m > 0:
        print(f"\nall runs: measured {grand_m:.3f} s, simulated {grand_s:.3f} s "
              f"({100 * (grand_s / grand_m - 1):+.1f}%)")


# ------------------------------------------------------------------ prediction


def gap_group(points, B):
    """Points per group of L[q], q*, IWAE (src/infer/gapeval.c gap_group)."""
    pp = (points + PROGRESS_GROUPS - 1) // PROGRESS_GROUPS
    if pp == 0 or pp >= points:
        return points
    return (pp + B - 1) // B * B


def cut(points, per_group):
    """Group sizes of points cut at multiples of per_group."""
    return [min(per_group, points - a) for a in range(0, points, per_group)]


class Phase:
    """A phase's per-slot costs from a run (slots: points; for AIS padded tile slots)."""

    def __init__(self, name):
        self.name = name
        self.rates, self.weights = [], []
        self.work = 0.0
        self.points = 0


def phase_costs(run, args):
    """{phase: Phase} from the run's complete VAE gap jobs, and why others were left out."""
    P = int(run.get("evaluate", "points", "0"))
    B = int(run.get("qstar", "batch_points", "1"))
    tile = int(run.get("ais", "tile_points", "8"))
    T = args.threads or run.threads or 1
    na = int(run.get("ais", "points", "0")) or P
    phases, skipped = {}, []
    for j in run.jobs:
        if j.phase not in VAE_PHASES:
            skipped.append(f"{j.name} (not a VAE gap phase)")
            continue
        if not j.complete():
            skipped.append(f"{j.name} (incomplete)")
            continue
        if j.phase == "AIS":
            sizes = cut(na, tile * T)
            slots = [math.ceil(m / tile) * tile for m in sizes]
        else:
            sizes = cut(P, gap_group(P, B))
            slots = sizes
        if len(sizes) != len(j.groups):
            skipped.append(f"{j.name} ({len(j.groups)} groups where the config's cut gives "
                           f"{len(sizes)}: a resumed job? left out)")
            continue
        ph = phases.setdefault(j.phase, Phase(j.phase))
        for (_, _, s, _), n, k in zip(sorted(j.groups), sizes, slots):
            ph.rates.append(s / k)
            ph.weights.append(k)
            ph.work += s
            ph.points += n
    return phases, skipped


def pct(xs, q):
    xs = sorted(xs)
    i = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
    return xs[i]


def draw_groups(rng, ph, slots):
    """Group costs: each group the sum of its slots' per-slot costs drawn from the phase."""
    draws = rng.choices(ph.rates, weights=ph.weights, k=sum(slots))
    out, a = [], 0
    for k in slots:
        out.append(sum(draws[a:a + k]))
        a += k
    return out


def fmt_eff(effs):
    return f"{100 * statistics.fmean(effs):5.1f}% [{100 * pct(effs, 0.05):3.0f}-{100 * pct(effs, 0.95):3.0f}]"


def predict(run, args, overhead):
    phases, skipped = phase_costs(run, args)
    if not phases:
        print("\nprediction: no complete VAE gap phase in the cost run; nothing to predict")
        return
    B = args.group_points or None
    tile = int(run.get("ais", "tile_points", "8"))
    T = args.threads or run.threads or 1
    ais_group = args.ais_group_points or tile * T
    Pm = int(run.get("evaluate", "points", "0"))
    jobs_span = sum(j.measured() for j in run.jobs if j.complete())
    serial = max(0.0, run.eval_seconds - jobs_span) if run.eval_seconds is not None else 0.0
    print(f"\nprediction: per-point costs from {run.name} ({run.ranks} rank(s), {Pm} points "
          f"per split), {args.reps} bootstrap draws (mean efficiency [5-95 %]), dispatch "
          f"overhead {overhead * 1e3:.2f} ms per group; efficiency = work / (N x makespan)")
    for s in skipped:
        print(f"  left out: {s}")
    rng = random.Random(args.seed)
    Bq = int(run.get("qstar", "batch_points", "1"))
    for P in args.points:
        cuts = {}
        for name in phases:
            if name == "AIS":
                sizes = cut(P, ais_group)
                cuts[name] = [math.ceil(m / tile) * tile for m in sizes]
            else:
                cuts[name] = cut(P, B or gap_group(P, Bq))
        ser = serial
        print(f"\n{P} points per split (L[q], q*, IWAE in groups of {B or gap_group(P, Bq)} "
              f"points, AIS of {ais_group}):")
        head = "".join(f" {'N = ' + str(N):>21}" for N in args.ranks)
        print(f"{'phase':<16} {'groups':>6} {'work s':>10}{head}")
        tot_work = [0.0] * args.reps
        tot_span = {N: [ser] * args.reps for N in args.ranks}
        for name in [p for p in VAE_PHASES if p in phases]:
            ph = phases[name]
            effs = {N: [] for N in args.ranks}
            works = []
            for i in range(args.reps):
                costs = draw_groups(rng, ph, cuts[name])
                w = sum(costs)
                works.append(w)
                tot_work[i] += w
                for N in args.ranks:
                    span = simulate(costs, N, overhead)
                    tot_span[N][i] += span
                    effs[N].append(w / (N * span))
            print(f"{name:<16} {len(cuts[name]):>6} {statistics.fmean(works):>10.1f}"
                  + "".join(f" {fmt_eff(effs[N]):>21}" for N in args.ranks))
        if ser > 0:
            print(f"{'serial':<16} {'':>6} {ser:>10.1f}   (the cost run's time outside the jobs, as measured)")
        print(f"{'evaluation':<16} {'':>6} {statistics.fmean(tot_work) + ser:>10.1f}"
              + "".join(f" {fmt_eff([(w + ser) / (N * s) for w, s in zip(tot_work, tot_span[N])]):>21}"
                        for N in args.ranks))
        print(f"{'  wall-clock s':<16} {'':>6} {'':>10}"
              + "".join(f" {statistics.fmean(tot_span[N]):>21.1f}" for N in args.ranks))
    protocol(run, args, overhead, phases, rng)


def protocol(run, args, overhead, phases, rng):
    if "AIS" not in phases:
        print("\nprotocol: no AIS phase in the cost run")
        return
    ph = phases["AIS"]
    pilot = run.get("ais", "adapt", "pilot") == "pilot"
    c, pc = int(run.get("ais", "chains", "100")), int(run.get("ais", "pilot_chains", "10"))
    t, lf = int(run.get("ais", "temperatures", "10000")), int(run.get("ais", "leapfrog", "10"))
    measured = (c + (pc if pilot else 0)) * t * lf
    target = (args.protocol_chains + args.protocol_pilot_chains) * args.protocol_temperatures * args.protocol_leapfrog
    ratio = target / measured
    tile = int(run.get("ais", "tile_points", "8"))
    T = args.threads or run.threads or 1
    ais_group = args.ais_group_points or tile * T
    P, S = args.protocol_points, args.protocol_splits
    slots = [math.ceil(m / tile) * tile for m in cut(P, ais_group)]
    mean_rate = sum(r * w for r, w in zip(ph.rates, ph.weights)) / sum(ph.weights)
    print(f"\nprotocol: AIS {args.protocol_chains} chains (+ {args.protocol_pilot_chains} pilot) x "
          f"{args.protocol_temperatures} temperatures x {args.protocol_leapfrog} leapfrog on "
          f"{S} x {P} points; measured AIS ({c} chains{f' + {pc} pilot' if pilot else ''} x {t} x {lf}) "
          f"{mean_rate:.3f} s per point, x {ratio:.1f} (chain transitions) = "
          f"{mean_rate * ratio:.1f} s per point per rank")
    work = mean_rate * ratio * S * P
    print(f"work {work / 3600:.1f} core-hours ({S} splits in turn, a barrier between; "
          f"groups of {ais_group} points, {len(slots)} per split)")
    print(f"{'N':>6} {'wall-clock h':>13} {'ideal h':>9} {'efficiency':>21}")
    for N in args.protocol_ranks:
        spans, effs = [], []
        for _ in range(args.reps):
            span = w = 0.0
            for _ in range(S):
                costs = [x * ratio for x in draw_groups(rng, ph, slots)]
                span += simulate(costs, N, overhead)
                w += sum(costs)
            spans.append(span)
            effs.append(w / (N * span))
        print(f"{N:>6} {statistics.fmean(spans) / 3600:>13.2f} {work / N / 3600:>9.2f} {fmt_eff(effs):>21}")
    print("(AIS alone: q*, IWAE and L[q] at the protocol's settings come on top; their "
          f"{PROGRESS_GROUPS} groups per split keep at most {PROGRESS_GROUPS} ranks busy)")


# ------------------------------------------------------------------ main


def int_list(s):
    try:
        v = [int(x) for x in s.split(",") if x]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {s!r}")
    if not v or min(v) < 1:
        raise argparse.ArgumentTypeError(f"not a list of positive integers: {s!r}")
    return v


def main():
    p = argparse.ArgumentParser(
        prog="schedule-sim.py",
        description="Simulate infbench's MPI schedule on measured group costs: validate it "
                    "against the runs given, then predict the efficiency on many ranks "
                    "(issue #13 §5; bench/RESULTS.md).",
        epilog="Each RUN is a run directory (its schedule.log, config.ini and results.json "
               "are read) or a schedule.log file (its directory's other files are read when "
               "there).  Example: bench/schedule-sim.py --costs runs/np2 runs/np1 runs/np2 runs/np3")
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.add_argument("--costs", metavar="RUN",
                   help="the run whose per-point costs the prediction draws from (default: the first RUN)")
    p.add_argument("--overhead", default="auto", metavar="SECONDS|auto",
                   help="dispatch overhead per group on ranks > 0 (default auto: the median "
                        "measured gap between a rank's groups in the runs on several ranks, 0 if none)")
    p.add_argument("--ranks", type=int_list, default=[8, 64, 512], metavar="N,...",
                   help="ranks to predict for (default 8,64,512)")
    p.add_argument("--points", type=int_list, default=[1000, 10000], metavar="P,...",
                   help="points per split to predict for (default 1000,10000)")
    p.add_argument("--reps", type=int, default=200, help="bootstrap draws (default 200)")
    p.add_argument("--seed", type=int, default=1, help="the bootstrap's seed (default 1)")
    p.add_argument("--threads", type=int, default=0,
                   help="rank 0's threads, which set AIS's group (default: the cost run's, from its config.ini)")
    p.add_argument("--group-points", type=int, default=0, metavar="N",
                   help="what if L[q], q* and IWAE came in groups of N points (default: infbench's cut)")
    p.add_argument("--ais-group-points", type=int, default=0, metavar="N",
                   help="what if AIS came in groups of N points (default: tile_points x threads)")
    p.add_argument("--protocol-chains", type=int, default=100)
    p.add_argument("--protocol-pilot-chains", type=int, default=10)
    p.add_argument("--protocol-temperatures", type=int, default=10000)
    p.add_argument("--protocol-leapfrog", type=int, default=10)
    p.add_argument("--protocol-points", type=int, default=1000, help="points per split (default 1000)")
    p.add_argument("--protocol-splits", type=int, default=2, help="splits (default 2: train and test)")
    p.add_argument("--protocol-ranks", type=int_list, default=[64, 512], metavar="N,...",
                   help="ranks for the protocol's wall-clock time (default 64,512)")
    p.add_argument("--no-validate", action="store_true", help="skip the validation")
    p.add_argument("--no-predict", action="store_true", help="skip the prediction and the protocol")
    p.add_argument("--no-protocol", action="store_true", help="skip the protocol's wall-clock time")
    args = p.parse_args()
    if args.reps < 1:
        p.error("--reps must be at least 1")

    runs = [Run(a) for a in args.runs]
    if args.overhead == "auto":
        gaps = dispatch_gaps(runs)
        overhead = statistics.median(gaps) if gaps else 0.0
        if gaps:
            print(f"dispatch gap (a rank > 0: its group's end to its next group's hand-out): "
                  f"median {overhead * 1e3:.2f} ms, 90th percentile {pct(gaps, 0.9) * 1e3:.2f} ms, "
                  f"{len(gaps)} hand-outs")
    else:
        try:
            overhead = float(args.overhead)
        except ValueError:
            p.error(f"--overhead: not a number or auto: {args.overhead!r}")
    if not args.no_validate:
        validate(runs, overhead)
    if not args.no_predict:
        cost_run = Run(args.costs) if args.costs else runs[0]
        predict(cost_run, args, overhead)


if __name__ == "__main__":
    main()
