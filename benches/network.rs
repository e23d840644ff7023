//! What a network of its own adds to a test's start: getting a network and
//! starting a container on it, against starting it on the default bridge.
//! Networks come from dockhand's pool of spares (created in the background),
//! so creation itself costs next to nothing after the first; what remains is
//! the engine's cost of joining a user-defined network (its embedded DNS).
//! Last line: `network_overhead_ms=<median difference of the whole start>`.
//!
//! `cargo bench --bench network` (ROUNDS=N to change the number of rounds).

mod support;
use support::{median, ms};

use std::time::{Duration, Instant};

use dockhand::{ContainerSpec, NetworkSpec};

fn spec() -> ContainerSpec {
    let image = support::image();
    ContainerSpec::new(image).cmd(["sleep", "600"]).expose(8080)
}

async fn plain() -> Duration {
    let t = Instant::now();
    let c = spec().start().await.unwrap();
    let took = t.elapsed();
    c.remove().await.unwrap();
    took
}

async fn on_own_network() -> (Duration, Duration) {
    let t = Instant::now();
    let net = NetworkSpec::new().create().await.unwrap();
    let created = t.elapsed();
    let c = spec().network(&net).alias("svc").start().await.unwrap();
    let took = t.elapsed();
    c.remove().await.unwrap();
    drop(net);
    (took, created)
}

#[tokio::main]
async fn main() {
    let rounds: usize = support::rounds("ROUNDS", 20);
    plain().await;
    on_own_network().await;
    let (mut a, mut b, mut create) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..rounds {
        if n % 2 == 0 {
            a.push(plain().await);
        }
        let (t, c) = on_own_network().await;
        b.push(t);
        create.push(c);
        if n % 2 == 1 {
            a.push(plain().await);
        }
    }
    let (a, b, c) = (median(a), median(b), median(create));
    println!("rounds={rounds}");
    println!("start_default_bridge_ms p50={:.1}", ms(a));
    println!(
        "start_own_network_ms    p50={:.1} (network create p50={:.1})",
        ms(b),
        ms(c)
    );
    println!("network_overhead_ms={:.1}", ms(b) - ms(a));
}
