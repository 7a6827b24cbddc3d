//! CPU time and RSS of a process, from /proc.

use std::fs;

/// Clock ticks per second for /proc/<pid>/stat (sysconf(_SC_CLK_TCK) is 100
/// on every Linux this runs on).
const CLK_TCK: u64 = 100;

#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    /// utime + stime from /proc/<pid>/stat, in ns (10 ms resolution).
    pub stat_ns: u64,
    /// Sum over /proc/<pid>/task/*/schedstat of the on-CPU time, in ns
    /// (ns resolution; misses threads that exited in between).
    pub sched_ns: Option<u64>,
}

/// `pid` may be a comma-separated list (a cluster's primary and workers):
/// their sum.
pub fn cpu(pid: &str) -> Option<Cpu> {
    let mut sum = Cpu {
        stat_ns: 0,
        sched_ns: Some(0),
    };
    for p in pid.split(',') {
        let c = cpu_one(p)?;
        sum.stat_ns += c.stat_ns;
        sum.sched_ns = sum.sched_ns.zip(c.sched_ns).map(|(a, b)| a + b);
    }
    Some(sum)
}

fn cpu_one(pid: &str) -> Option<Cpu> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    let stat_ns = (utime + stime) * (1_000_000_000 / CLK_TCK);
    let sched_ns = (|| {
        let mut sum = 0u64;
        for e in fs::read_dir(format!("/proc/{pid}/task")).ok()? {
            let p = e.ok()?.path().join("schedstat");
            let s = fs::read_to_string(p).ok()?;
            sum += s.split_whitespace().next()?.parse::<u64>().ok()?;
        }
        Some(sum)
    })();
    Some(Cpu { stat_ns, sched_ns })
}

/// VmRSS in KiB (summed over a comma-separated list of processes).
pub fn rss_kb(pid: &str) -> Option<u64> {
    pid.split(',').map(rss_one).sum()
}

fn rss_one(pid: &str) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU seconds used between two readings: schedstat when both have it and it
/// agrees roughly with stat (it can undercount if threads exited), else stat.
pub fn cpu_delta_s(a: &Cpu, b: &Cpu) -> (f64, &'static str) {
    let stat = b.stat_ns.saturating_sub(a.stat_ns) as f64 / 1e9;
    if let (Some(x), Some(y)) = (a.sched_ns, b.sched_ns) {
        if y >= x {
            let sched = (y - x) as f64 / 1e9;
            // 10 ms ticks on each reading: allow 25 ms plus 5 %.
            if (sched - stat).abs() <= 0.025 + 0.05 * stat {
                return (sched, "schedstat");
            }
        }
    }
    (stat, "stat")
}
