//! `dockhand`: the kept, reused and leaked resources of dockhand sessions.
//!
//! ```text
//! dockhand ls [--all]
//! dockhand clean [--kept] [--reused] [--snapshots] [--all] [--session ID] [--older-than 2h] [--dry-run]
//! dockhand logs <container> [-f] [--tail N]
//! ```

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use dockhand::bollard::query_parameters::LogsOptionsBuilder;
use dockhand::{Engine, Kind, Resource, Status};
use futures::StreamExt;

const USAGE: &str = "\
usage:
  dockhand ls [--all]
      resources dockhand left on the engine: kept, reused and leaked ones
      (--all: those of running processes too), with test, age, image, addresses
  dockhand clean [--kept] [--reused] [--snapshots] [--all] [--session ID] [--older-than DUR] [--dry-run]
      remove leaked resources (whose process is gone); --kept and --reused add
      those kept on purpose; --snapshots adds snapshot images (only this flag
      removes them); --all adds every other resource, even of running processes;
      --session and --older-than (30s, 10m, 2h, 1d) narrow it down
  dockhand logs <container> [-f] [--tail N]
      a container's output (by name or id); -f follows it";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dockhand: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let (cmd, rest) = args.split_first().ok_or_else(|| USAGE.to_string())?;
    match cmd.as_str() {
        "ls" | "list" => ls(rest).await,
        "clean" => clean(rest).await,
        "logs" => logs(rest).await,
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    }
}

/// Parsed flags: `--name value` pairs and bare switches.
struct Flags {
    switches: Vec<String>,
    values: Vec<(String, String)>,
    positional: Vec<String>,
}

fn flags(args: &[String], with_value: &[&str], switches: &[&str]) -> Result<Flags, String> {
    let mut f = Flags {
        switches: Vec::new(),
        values: Vec::new(),
        positional: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if with_value.contains(&a.as_str()) {
            let v = it.next().ok_or_else(|| format!("`{a}` needs a value"))?;
            f.values.push((a.clone(), v.clone()));
        } else if switches.contains(&a.as_str()) {
            f.switches.push(a.clone());
        } else if a.starts_with('-') {
            return Err(format!("unknown option `{a}`\n{USAGE}"));
        } else {
            f.positional.push(a.clone());
        }
    }
    Ok(f)
}

impl Flags {
    fn has(&self, s: &str) -> bool {
        self.switches.iter().any(|x| x == s)
    }
    fn value(&self, s: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == s)
            .map(|(_, v)| v.as_str())
    }
}

fn parse_age(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("bad duration `{s}`: use e.g. 30s, 10m, 2h, 1d"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("bad duration `{s}`: use e.g. 30s, 10m, 2h, 1d")),
    };
    Ok(Duration::from_secs(n * secs))
}

fn age(r: &Resource) -> String {
    match r.age().map(|d| d.as_secs()) {
        None => "?".into(),
        Some(s) if s < 120 => format!("{s}s"),
        Some(s) if s < 7200 => format!("{}m", s / 60),
        Some(s) if s < 172_800 => format!("{}h", s / 3600),
        Some(s) => format!("{}d", s / 86400),
    }
}

fn label(s: Status) -> &'static str {
    match s {
        Status::Kept => "kept",
        Status::Reused => "reused",
        Status::Leaked => "leaked",
        Status::Live => "live",
        Status::Snapshot => "snapshot",
    }
}

fn kind(k: Kind) -> &'static str {
    match k {
        Kind::Container => "container",
        Kind::Network => "network",
        Kind::Volume => "volume",
        Kind::Image => "image",
    }
}

async fn engine() -> Result<Engine, String> {
    Engine::shared().await.map_err(|e| e.to_string())
}

async fn ls(args: &[String]) -> Result<(), String> {
    let f = flags(args, &[], &["--all"])?;
    let all = dockhand::inventory(&engine().await?)
        .await
        .map_err(|e| e.to_string())?;
    let shown: Vec<_> = all
        .iter()
        .filter(|r| f.has("--all") || r.status != Status::Live)
        .collect();
    if shown.is_empty() {
        println!("no kept, reused, leaked or snapshot dockhand resources");
        return Ok(());
    }
    println!(
        "{:<8} {:<9} {:<32} {:<12} {:<5} {:<28} {:<24} ADDRESSES",
        "STATUS", "KIND", "NAME", "ID", "AGE", "TEST", "IMAGE"
    );
    for r in shown {
        println!(
            "{:<8} {:<9} {:<32} {:<12} {:<5} {:<28} {:<24} {}",
            label(r.status),
            kind(r.kind),
            r.name,
            r.id.trim_start_matches("sha256:")
                .chars()
                .take(12)
                .collect::<String>(),
            age(r),
            r.test.as_deref().unwrap_or("-"),
            r.image.as_deref().unwrap_or("-"),
            r.ports.join(", ")
        );
    }
    Ok(())
}

async fn clean(args: &[String]) -> Result<(), String> {
    let f = flags(
        args,
        &["--session", "--older-than"],
        &["--kept", "--reused", "--snapshots", "--all", "--dry-run"],
    )?;
    let older = f.value("--older-than").map(parse_age).transpose()?;
    let engine = engine().await?;
    let all = dockhand::inventory(&engine)
        .await
        .map_err(|e| e.to_string())?;
    let chosen: Vec<_> = all
        .into_iter()
        .filter(|r| match r.status {
            Status::Leaked => true,
            Status::Kept => f.has("--kept") || f.has("--all"),
            Status::Reused => f.has("--reused") || f.has("--all"),
            Status::Live => f.has("--all"),
            Status::Snapshot => f.has("--snapshots"),
        })
        .filter(|r| f.value("--session").is_none_or(|s| r.session == s))
        .filter(|r| older.is_none_or(|o| r.age().is_some_and(|a| a >= o)))
        .collect();
    let mut failed = 0;
    for r in &chosen {
        let verb = if f.has("--dry-run") {
            "would remove"
        } else {
            "removed"
        };
        if !f.has("--dry-run") {
            if let Err(e) = dockhand::remove_resource(&engine, r).await {
                eprintln!("dockhand: {e}");
                failed += 1;
                continue;
            }
        }
        println!(
            "{verb} {} {} {} ({}, session {})",
            label(r.status),
            kind(r.kind),
            r.name,
            &r.id.trim_start_matches("sha256:")[..12.min(r.id.len())],
            r.session
        );
    }
    if chosen.is_empty() {
        println!("nothing to remove");
    }
    if failed > 0 {
        return Err(format!("{failed} resources could not be removed"));
    }
    Ok(())
}

async fn logs(args: &[String]) -> Result<(), String> {
    let f = flags(args, &["--tail"], &["-f", "--follow"])?;
    let [name] = f.positional.as_slice() else {
        return Err(format!("`logs` takes one container name or id\n{USAGE}"));
    };
    let follow = f.has("-f") || f.has("--follow");
    let tail = f.value("--tail").unwrap_or("all").to_string();
    let engine = engine().await?;
    let docker = engine.docker().clone();
    let name = name.clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let task = engine.run(async move {
        let opts = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(follow)
            .tail(&tail)
            .build();
        let mut s = docker.logs(&name, Some(opts));
        while let Some(item) = s.next().await {
            if tx
                .send(item.map_err(|e| format!("logs of `{name}`: {e}")))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let printer = async {
        while let Some(item) = rx.recv().await {
            match item? {
                dockhand::bollard::container::LogOutput::StdErr { message } => {
                    let _ = std::io::stderr().write_all(&message);
                }
                other => {
                    let _ = std::io::stdout().write_all(other.as_ref());
                }
            }
        }
        Ok::<(), String>(())
    };
    let (_, printed) = tokio::join!(task, printer);
    printed
}
