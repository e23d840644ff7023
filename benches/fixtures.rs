//! A test with three container parameters: set up concurrently (what
//! `#[dockhand::test]` does) against one after another. Each round is a whole
//! test through the harness: set-up, body, removal of the containers.
//! Last line: `fixture_parallel_ratio=<concurrent/sequential>`.
//!
//! `cargo bench --bench fixtures` (ROUNDS=N to change the number of rounds).

mod support;
use support::median;

use std::time::{Duration, Instant};

use dockhand::__macro_support::{container_parameter, run_async, TestOptions};
use dockhand::ContainerSpec;

const PATH: &str = "bench::fixtures";

fn spec() -> ContainerSpec {
    let image = support::image();
    ContainerSpec::new(image).cmd(["sleep", "600"]).expose(8080)
}

fn concurrent() -> Duration {
    let t = Instant::now();
    run_async(
        TestOptions {
            path: PATH,
            ..Default::default()
        },
        || async {
            let (a, b, c) = futures::try_join!(
                container_parameter(PATH, "a", spec()),
                container_parameter(PATH, "b", spec()),
                container_parameter(PATH, "c", spec()),
            )?;
            assert!(a.addr(8080).is_ok() && b.addr(8080).is_ok() && c.addr(8080).is_ok());
            Ok(())
        },
    );
    t.elapsed()
}

fn sequential() -> Duration {
    let t = Instant::now();
    run_async(
        TestOptions {
            path: PATH,
            ..Default::default()
        },
        || async {
            let a = container_parameter(PATH, "a", spec()).await?;
            let b = container_parameter(PATH, "b", spec()).await?;
            let c = container_parameter(PATH, "c", spec()).await?;
            assert!(a.addr(8080).is_ok() && b.addr(8080).is_ok() && c.addr(8080).is_ok());
            Ok(())
        },
    );
    t.elapsed()
}

fn main() {
    let rounds: usize = support::rounds("ROUNDS", 10);
    concurrent();
    sequential();
    let (mut conc, mut seq) = (Vec::new(), Vec::new());
    for n in 0..rounds {
        if n % 2 == 0 {
            conc.push(concurrent());
            seq.push(sequential());
        } else {
            seq.push(sequential());
            conc.push(concurrent());
        }
    }
    let (c, s) = (median(conc), median(seq));
    println!("rounds={rounds}");
    println!("concurrent_test_ms p50={:.1}", c.as_secs_f64() * 1000.0);
    println!("sequential_test_ms p50={:.1}", s.as_secs_f64() * 1000.0);
    println!(
        "fixture_parallel_ratio={:.3}",
        c.as_secs_f64() / s.as_secs_f64()
    );
}
