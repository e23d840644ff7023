//! The healthcheck probe: the engine's own HEALTHCHECK says `healthy`.

use std::fmt;
use std::time::Duration;

use bollard::models::{ContainerState, ContainerStateStatusEnum, Health, HealthStatusEnum};

use super::{Backoff, Ctx, Failure, Seen};

/// Waits for the container's HEALTHCHECK to report `healthy`; from
/// [`WaitFor::healthy`](super::WaitFor::healthy).
///
/// ```
/// use std::time::Duration;
/// let probe = dockhand::WaitFor::healthy().timeout(Duration::from_secs(30));
/// # let _ = probe;
/// ```
#[derive(Clone, Default)]
pub struct HealthProbe {
    pub(super) timeout: Option<Duration>,
}

impl HealthProbe {
    pub(super) fn new() -> Self {
        HealthProbe::default()
    }

    pub(super) async fn run(&self, ctx: &Ctx<'_>, seen: &Seen) -> Result<(), Failure> {
        let inner = &ctx.container.inner;
        let mut backoff = Backoff::engine();
        loop {
            let info = inner.inspect().await?;
            let health = info.state.as_ref().and_then(|s| s.health.as_ref());
            let status = health.and_then(|h| h.status);
            match status {
                Some(HealthStatusEnum::HEALTHY) => return Ok(()),
                Some(HealthStatusEnum::UNHEALTHY) => {
                    return Err(Failure::Failed {
                        probe: self.to_string(),
                        reason: format!(
                            "the healthcheck reports unhealthy; {}",
                            last_check(health)
                        ),
                    })
                }
                None | Some(HealthStatusEnum::NONE) | Some(HealthStatusEnum::EMPTY) => {
                    return Err(Failure::Failed {
                        probe: self.to_string(),
                        reason: "the container has no healthcheck; set one with \
                                 `ContainerSpec::healthcheck`, or wait with another probe"
                            .into(),
                    })
                }
                Some(HealthStatusEnum::STARTING) => seen.set(format!(
                    "health starting, {} failed checks in a row; {}",
                    health.and_then(|h| h.failing_streak).unwrap_or(0),
                    last_check(health)
                )),
            }
            backoff.pause().await;
        }
    }
}

/// The last healthcheck run and what it printed.
fn last_check(health: Option<&Health>) -> String {
    let Some(last) = health.and_then(|h| h.log.as_ref()).and_then(|l| l.last()) else {
        return "no check has run yet".into();
    };
    let output = last.output.as_deref().unwrap_or("").trim();
    let output: String = output.chars().take(200).collect();
    format!(
        "last check exited with {}, output: {output:?}",
        last.exit_code.map_or("?".to_string(), |c| c.to_string())
    )
}

/// The container's state in a few words, for failure messages.
pub(crate) fn describe_state(state: &ContainerState) -> String {
    let mut text = match state.status {
        Some(s) => s.to_string(),
        None => "unknown".into(),
    };
    let stopped = matches!(
        state.status,
        Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD)
    );
    if let Some(code) = state.exit_code.filter(|_| stopped) {
        text.push_str(&format!(" with code {code}"));
    }
    if state.oom_killed == Some(true) {
        text.push_str(", killed for lack of memory (OOM)");
    }
    if let Some(err) = state.error.as_deref().filter(|e| !e.is_empty()) {
        text.push_str(&format!(", engine error: {err}"));
    }
    if let Some(status) = state.health.as_ref().and_then(|h| h.status) {
        if !matches!(status, HealthStatusEnum::NONE | HealthStatusEnum::EMPTY) {
            text.push_str(&format!(", health {status}"));
        }
    }
    text
}

impl fmt::Display for HealthProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("healthcheck healthy")
    }
}

impl fmt::Debug for HealthProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HealthProbe({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::HealthcheckResult;

    #[test]
    fn state_in_words() {
        let exited = ContainerState {
            status: Some(ContainerStateStatusEnum::EXITED),
            running: Some(false),
            exit_code: Some(3),
            ..Default::default()
        };
        assert_eq!(describe_state(&exited), "exited with code 3");
        let sick = ContainerState {
            status: Some(ContainerStateStatusEnum::RUNNING),
            running: Some(true),
            exit_code: Some(0),
            health: Some(Health {
                status: Some(HealthStatusEnum::UNHEALTHY),
                failing_streak: Some(3),
                log: Some(vec![HealthcheckResult {
                    exit_code: Some(1),
                    output: Some("no\n".into()),
                    ..Default::default()
                }]),
            }),
            ..Default::default()
        };
        assert_eq!(describe_state(&sick), "running, health unhealthy");
        assert_eq!(
            last_check(sick.health.as_ref()),
            "last check exited with 1, output: \"no\""
        );
    }
}
