//! Readiness latency: from the moment a service becomes ready to `start()`
//! returning, per probe.
//!
//! Each container sleeps 1 s (so every polling probe has backed off to its
//! cap, as with a real service), then takes a timestamp with busybox
//! `adjtimex` (wall clock, microseconds; the container shares the host's
//! clock) and right after becomes ready: prints `ready` (log probe) or execs
//! httpd (port and http probes). The latency is the host's wall clock when
//! `start()` returned minus that timestamp. The timestamp is taken a little
//! *before* the readiness moment (the shell still has to write the line, or
//! httpd to start and bind), so the figures err on the slow side.
//!
//! Runs are sequential (the machine has 2 cores; concurrent containers would
//! measure contention). Output: one line per probe with p50/p95, then on the
//! last line `readiness_p50_ms log=<x> port=<y> http=<z>`.
//!
//! `cargo bench --bench readiness`; `DOCKHAND_BENCH_RUNS` sets the runs per
//! probe (default 25, at least 20 for the figures to mean much).

mod support;
use support::image;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dockhand::{ContainerSpec, WaitFor};

/// Sleep, take the timestamp, become ready.
const LOG_READY: &str = "sleep 1; adjtimex; echo ready; exec sleep 600";
const HTTPD_READY: &str = "sleep 1; adjtimex; exec httpd -f -p 8080 -h /www";

#[derive(Clone, Copy)]
enum Probe {
    Log,
    Port,
    Http,
}

impl Probe {
    fn name(self) -> &'static str {
        match self {
            Probe::Log => "log",
            Probe::Port => "port",
            Probe::Http => "http",
        }
    }

    fn spec(self) -> ContainerSpec {
        let base = ContainerSpec::new(image()).name_prefix("bench-readiness");
        match self {
            Probe::Log => base
                .cmd(["sh", "-c", LOG_READY])
                .wait_for(WaitFor::log("ready")),
            Probe::Port => httpd(base).wait_for(WaitFor::port(8080)),
            Probe::Http => httpd(base).wait_for(WaitFor::http(8080, "/index.html").status(200)),
        }
    }
}

fn httpd(spec: ContainerSpec) -> ContainerSpec {
    spec.cmd(["sh", "-c", HTTPD_READY])
        .copy_bytes("/www/index.html", "ok\n", 0o644)
        .expose(8080)
}

/// The wall-clock time `adjtimex` printed, in microseconds since the epoch.
fn ready_at(stdout: &str) -> Option<u128> {
    let field = |name: &str| -> Option<u128> {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(name))?
            .split(':')
            .nth(1)?
            .trim()
            .parse()
            .ok()
    };
    Some(field("time.tv_sec")? * 1_000_000 + field("time.tv_usec")?)
}

fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_micros()
}

/// One start: the latency in milliseconds.
async fn once(probe: Probe) -> f64 {
    let c = probe.spec().start().await.expect("start");
    let returned = now_us();
    let logs = c.logs().await.expect("logs");
    let ready = ready_at(&logs.stdout).unwrap_or_else(|| panic!("no timestamp in {logs:?}"));
    c.remove().await.expect("remove");
    assert!(
        returned >= ready,
        "start() returned before the service was ready"
    );
    (returned - ready) as f64 / 1000.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::var("DOCKHAND_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let mut p50s = Vec::new();
    for probe in [Probe::Log, Probe::Port, Probe::Http] {
        once(probe).await; // warm-up: engine connection, image, first exec
        let mut ms = Vec::with_capacity(runs);
        for _ in 0..runs {
            ms.push(once(probe).await);
        }
        ms.sort_by(|a, b| a.total_cmp(b));
        let (p50, p95) = (percentile(&ms, 0.50), percentile(&ms, 0.95));
        println!(
            "{:<5} runs={runs} p50={p50:.2} ms p95={p95:.2} ms min={:.2} ms max={:.2} ms",
            probe.name(),
            ms[0],
            ms[ms.len() - 1]
        );
        p50s.push(p50);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "readiness_p50_ms log={:.2} port={:.2} http={:.2}",
        p50s[0], p50s[1], p50s[2]
    );
}
