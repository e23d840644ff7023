//! What network creation adds to a test's start. Three ways, interleaved:
//!
//! - on the default bridge;
//! - on a user-defined network that already exists (made once, outside the
//!   timings): what any container pays to be reachable by name, the engine's
//!   embedded DNS and endpoint set-up, whoever made the network;
//! - on a network of its own, got for the test (as `#[dockhand::test(network)]`
//!   does): creation plus the same join.
//!
//! Networks come from dockhand's pool of spares (created in the background),
//! so creation itself costs next to nothing after the first.
//! Prints each median and the engine's join cost, and last
//! `network_overhead_ms=<own network − existing network>`: what creating the
//! network adds to the start.
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

async fn on_existing(net: &dockhand::Network) -> Duration {
    let t = Instant::now();
    let c = spec().network(net).alias("svc").start().await.unwrap();
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
    let existing = NetworkSpec::new()
        .name_prefix("bench-existing")
        .create()
        .await
        .unwrap();
    plain().await;
    on_existing(&existing).await;
    on_own_network().await;
    let (mut a, mut e, mut b, mut create) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for n in 0..rounds {
        // Rotate the order so that no way always follows another.
        for way in 0..3 {
            match (n + way) % 3 {
                0 => a.push(plain().await),
                1 => e.push(on_existing(&existing).await),
                _ => {
                    let (t, c) = on_own_network().await;
                    b.push(t);
                    create.push(c);
                }
            }
        }
    }
    drop(existing);
    let (a, e, b, c) = (median(a), median(e), median(b), median(create));
    println!("rounds={rounds}");
    println!("start_default_bridge_ms     p50={:.1}", ms(a));
    println!("start_existing_network_ms   p50={:.1}", ms(e));
    println!(
        "start_own_network_ms        p50={:.1} (getting the network p50={:.2})",
        ms(b),
        ms(c)
    );
    println!(
        "network_join_ms={:.1} (the engine's cost of a user-defined network, existing − default bridge)",
        ms(e) - ms(a)
    );
    println!("network_overhead_ms={:.1}", ms(b) - ms(e));
}
