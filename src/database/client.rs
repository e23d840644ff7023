//! Running a database's own client (`psql`, `mariadb`) in its container.

use std::collections::HashMap;

use crate::container::Container;
use crate::error::{Error, Result};
use crate::exec::Exec;

/// Runs a database client in the container; on failure the error shows
/// `shown` (the SQL, say) instead of the command line.
pub(crate) async fn run(c: &Container, exec: Exec, shown: Vec<String>) -> Result<String> {
    match c.exec_with_ok(exec).await {
        Ok(out) => Ok(out.stdout),
        Err(Error::ExecFailed {
            container,
            exit_code,
            stderr,
            ..
        }) => Err(Error::ExecFailed {
            container,
            cmd: shown,
            exit_code,
            stderr,
        }),
        Err(other) => Err(other),
    }
}

/// The container's environment as it runs (a snapshot's frozen values included).
pub(crate) async fn environment(container: &Container) -> Result<HashMap<String, String>> {
    let info = container.inspect().await?;
    Ok(info
        .config
        .and_then(|c| c.env)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect())
}

/// `key` from a container's environment, else `default` (the spec's value).
pub(crate) fn env_or(env: &HashMap<String, String>, key: &str, default: &str) -> String {
    env.get(key).cloned().unwrap_or_else(|| default.to_string())
}
