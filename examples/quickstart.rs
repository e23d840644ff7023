//! The whole dockhand flow on an engine with no images and no registry:
//! build an image from `examples/quickstart/Dockerfile`, run it, inspect it,
//! exec in it, read its logs, print its mapped address; everything started is
//! removed at the end.
//!
//! `cargo run --example quickstart` (needs Debian's `busybox-static`, whose
//! static binary the image is built from).

use std::path::Path;
use std::time::Duration;

use dockhand::{ContainerSpec, ImageBuild};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();

    // 1. Build: the Dockerfile kept in examples/, plus a static busybox.
    let context = tempfile::tempdir()?;
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    copy_dir(&here, context.path())?;
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        return Err(
            "no /bin/busybox: install Debian's busybox-static (apt-get install busybox-static)"
                .into(),
        );
    }
    std::fs::copy(busybox, context.path().join("busybox"))?;
    let image = ImageBuild::from_dir(context.path())
        .name("dockhand-example/quickstart")
        .build()
        .await?;
    println!("built     {image}");

    // 2. Run it, with its web port published on 127.0.0.1.
    let web = ContainerSpec::new(&image)
        .name_prefix("quickstart")
        .env("MODE", "example")
        .expose(8080)
        .start()
        .await?;
    let addr = web.addr(8080)?;
    println!("started   {} ({})", web.name(), &web.id()[..12]);
    println!("address   http://{addr}/  ({addr} -> 8080/tcp)");

    // 3. Inspect it.
    let info = web.inspect().await?;
    let state = info.state.as_ref().and_then(|s| s.status);
    println!(
        "inspect   state={state:?} image={}",
        info.image.as_deref().unwrap_or("?")
    );

    // 4. Exec in it.
    let out = web
        .exec(["sh", "-c", "echo MODE=$MODE; cat /www/index.html"])
        .await?;
    println!("exec      exit={} stdout={:?}", out.exit_code, out.stdout);

    // 5. Talk to it from the host, then read its logs (httpd -v logs each request).
    let page = get(addr).await?;
    println!("http      {}", page.lines().last().unwrap_or_default());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let logs = web.logs().await?;
    println!(
        "logs      {:?}",
        logs.stderr.lines().last().unwrap_or_default()
    );

    // 6. Dropping the handle removes the container (and its anonymous volumes).
    let id = web.id().to_string();
    web.remove().await?;
    println!("removed   {}", &id[..12]);
    Ok(())
}

async fn get(addr: std::net::SocketAddr) -> std::io::Result<String> {
    // The server may take a moment to listen after the container starts.
    let mut tries = 0;
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(mut s) => {
                s.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
                let mut out = String::new();
                s.read_to_string(&mut out).await?;
                if !out.is_empty() || tries > 50 {
                    return Ok(out);
                }
            }
            Err(e) if tries > 50 => return Err(e),
            Err(_) => {}
        }
        tries += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
