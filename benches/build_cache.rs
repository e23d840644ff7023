//! The build cache: what re-running `ImageBuild` on an unchanged context
//! costs, against what the engine's own layer cache costs for the same build.
//!
//! `cargo bench --bench build_cache` (needs the engine and the test image
//! `dockhand-test/busybox`, built by `scripts/test-env`). Prints the three
//! times and, on the last line, `rebuild_ratio=<unchanged re-run / docker-cached rebuild>`.

mod support;
use support::median;

use std::time::{Duration, Instant};

use dockhand::bollard::query_parameters::{BuildImageOptionsBuilder, RemoveImageOptionsBuilder};
use dockhand::{Engine, ImageBuild};
use futures::StreamExt;

const ROUNDS: usize = 5;

/// A context of a few files; `salt` makes its content new to the engine's cache.
fn write_context(dir: &std::path::Path, base: &str, salt: u64) {
    let dockerfile = format!(
        "FROM {base}\nCOPY . /app/\nRUN cat /app/src/*.txt > /app/all.txt\nCMD [\"cat\", \"/app/all.txt\"]\n"
    );
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    for i in 0..8 {
        let body = format!("file {i} salt {salt}\n").repeat(2000);
        std::fs::write(dir.join(format!("src/part{i}.txt")), body).unwrap();
    }
    std::fs::write(dir.join("README.md"), "bench context\n").unwrap();
}

/// Packs the context as `docker build` would send it.
fn pack(dir: &std::path::Path) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_dir_all(".", dir).unwrap();
    tar.into_inner().unwrap()
}

/// A plain build through the engine, its layer cache on: what `docker build`
/// of an unchanged context costs without dockhand's hash check.
async fn docker_build(engine: &Engine, tar: Vec<u8>, tag: String) -> Duration {
    let docker = engine.docker().clone();
    engine
        .run(async move {
            let started = Instant::now();
            let opts = BuildImageOptionsBuilder::default().t(&tag).rm(true).build();
            let mut stream =
                docker.build_image(opts, None, Some(dockhand::bollard::body_full(tar.into())));
            while let Some(item) = stream.next().await {
                let info = item.expect("docker build");
                assert!(info.error_detail.is_none(), "docker build failed: {info:?}");
            }
            started.elapsed()
        })
        .await
}

async fn remove(engine: &Engine, reference: String) {
    let docker = engine.docker().clone();
    engine
        .run(async move {
            let opts = RemoveImageOptionsBuilder::default().force(true).build();
            let _ = docker.remove_image(&reference, Some(opts), None).await;
        })
        .await;
}

#[tokio::main]
async fn main() {
    let base = support::image();
    let engine = Engine::shared().await.expect("a Docker engine");
    if !engine.image_exists(&base).await.unwrap_or(false) {
        eprintln!("build_cache: image `{base}` is missing; run `DOCKHAND_TEST_ENV_ONLY=1 bash scripts/test-env` first");
        std::process::exit(1);
    }
    let salt = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let name = format!("dockhand-bench/build-cache-{:08x}", salt & 0xffff_ffff);
    let dir = tempfile::tempdir().unwrap();
    write_context(dir.path(), &base, salt);
    let mut created = Vec::new();

    let started = Instant::now();
    let first = ImageBuild::from_dir(dir.path())
        .name(&name)
        .build_report()
        .await
        .unwrap();
    let first_time = started.elapsed();
    assert!(first.built);
    created.push(first.reference.clone());

    let mut unchanged = Vec::new();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let again = ImageBuild::from_dir(dir.path())
            .name(&name)
            .build_report()
            .await
            .unwrap();
        unchanged.push(started.elapsed());
        assert!(!again.built && again.reference == first.reference);
    }

    let mut cached = Vec::new();
    for i in 0..ROUNDS {
        let tag = format!("{name}:docker-cached-{i}");
        cached.push(docker_build(&engine, pack(dir.path()), tag.clone()).await);
        created.push(tag);
    }

    std::fs::write(
        dir.path().join("src/part3.txt"),
        format!("touched {salt}\n"),
    )
    .unwrap();
    let started = Instant::now();
    let touched = ImageBuild::from_dir(dir.path())
        .name(&name)
        .build_report()
        .await
        .unwrap();
    let touched_time = started.elapsed();
    assert!(touched.built && touched.reference != first.reference);
    created.push(touched.reference.clone());

    for reference in created {
        remove(&engine, reference).await;
    }

    let (unchanged, cached) = (median(unchanged), median(cached));
    println!("first build:                 {first_time:>10.1?}");
    println!("re-run, context unchanged:   {unchanged:>10.1?}  (median of {ROUNDS}; no upload, no build)");
    println!("re-run, one file touched:    {touched_time:>10.1?}");
    println!("docker-cached rebuild:       {cached:>10.1?}  (median of {ROUNDS}; same context, engine layer cache)");
    println!(
        "rebuild_ratio={:.4}",
        unchanged.as_secs_f64() / cached.as_secs_f64()
    );
}
