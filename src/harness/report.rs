//! What a test prints about its containers: logs on failure, keep banners.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use crate::container::Inner;
use crate::engine;
use crate::logs::Source;

/// Lines of log shown per container when a test fails.
const LOG_LINES: usize = 50;
/// How long the end of a test may wait for the engine.
const FINISH_LIMIT: Duration = Duration::from_secs(60);

/// Prints each container's last log lines into the test's output (libtest
/// shows it only for failed tests).
pub(crate) fn dump_logs(containers: &[Arc<Inner>]) {
    let inners: Vec<_> = containers.to_vec();
    let tails = engine::block_bounded(
        async move {
            let fetches = inners
                .iter()
                .map(|c| crate::logs::tail_of(c.clone(), LOG_LINES));
            futures::future::join_all(fetches).await
        },
        FINISH_LIMIT,
    )
    .unwrap_or_default();
    for (c, tail) in containers.iter().zip(tails) {
        println!(
            "\n--- dockhand: last {LOG_LINES} log lines of container `{}` ({}) ---",
            c.name, c.image
        );
        match tail {
            Ok(lines) if lines.is_empty() => println!("(no output)"),
            Ok(lines) => {
                for l in lines {
                    let tag = if l.source == Source::Stderr {
                        "err| "
                    } else {
                        "out| "
                    };
                    println!("{tag}{}", l.text);
                }
            }
            Err(e) => println!("(could not read the logs: {e})"),
        }
    }
    if !containers.is_empty() {
        println!("--- dockhand: end of container logs ---");
    }
}

/// Tells how to reach a kept container. Written straight to stderr, past
/// libtest's capture, so it shows for passing tests too.
pub(crate) fn keep_banner(c: &Inner, test: &str) {
    let ports = c.ports.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let short = &c.id[..c.id.len().min(12)];
    let mut text = format!(
        "\ndockhand: kept container `{}` of test `{test}` for debugging\n  id:     {}\n  image:  {}\n",
        c.name, c.id, c.image
    );
    if ports.is_empty() {
        text.push_str("  ports:  (none published)\n");
    }
    for p in ports {
        text.push_str(&format!("  port:   {p}\n"));
    }
    text.push_str(&format!(
        "  shell:  docker exec -it {short} sh\n  logs:   docker logs -f {short}\n  remove: docker rm -f -v {short}\n"
    ));
    let _ = std::io::stderr().write_all(text.as_bytes());
}
