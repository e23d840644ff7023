//! Resource usage of a container.

use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::StatsOptionsBuilder;
use futures::StreamExt;

use crate::container::Container;
use crate::engine;
use crate::error::{Error, Result};

/// A snapshot of a container's CPU and memory use (`docker stats --no-stream`).
#[derive(Debug, Clone)]
pub struct Stats {
    /// CPU use over the engine's sampling interval, in percent of one core
    /// (200.0 = two cores busy); `None` when the engine gave no previous sample.
    pub cpu_percent: Option<f64>,
    /// Memory in use, in bytes.
    pub memory_usage: u64,
    /// The memory limit, in bytes (the host's memory without a limit).
    pub memory_limit: u64,
    /// The engine's full answer.
    pub raw: ContainerStatsResponse,
}

impl Container {
    /// CPU and memory use now. Takes about a second: the engine samples CPU
    /// twice to compute a rate.
    pub async fn stats(&self) -> Result<Stats> {
        let inner = self.inner.clone();
        engine::run(async move {
            let opts = StatsOptionsBuilder::default().stream(false).build();
            tracing::debug!(parent: &inner.span, "engine: stats");
            let raw = inner
                .docker()
                .stats(&inner.id, Some(opts))
                .next()
                .await
                .ok_or_else(|| Error::Engine {
                    action: inner.action("read stats of"),
                    status: None,
                    message: "the engine sent no stats".into(),
                })?
                .map_err(|e| Error::engine(inner.action("read stats of"), e))?;
            Ok(Stats::from_raw(raw))
        })
        .await
    }
}

impl Stats {
    fn from_raw(raw: ContainerStatsResponse) -> Stats {
        let total = |s: &Option<bollard::models::ContainerCpuStats>| {
            s.as_ref().and_then(|s| {
                Some((
                    s.cpu_usage.as_ref()?.total_usage?,
                    s.system_cpu_usage?,
                    s.online_cpus.unwrap_or(1),
                ))
            })
        };
        let cpu_percent = match (total(&raw.cpu_stats), total(&raw.precpu_stats)) {
            (Some((cpu, sys, cpus)), Some((pcpu, psys, _))) if sys > psys => {
                Some((cpu.saturating_sub(pcpu)) as f64 / (sys - psys) as f64 * cpus as f64 * 100.0)
            }
            _ => None,
        };
        let mem = raw.memory_stats.as_ref();
        Stats {
            cpu_percent,
            memory_usage: mem.and_then(|m| m.usage).unwrap_or(0),
            memory_limit: mem.and_then(|m| m.limit).unwrap_or(0),
            raw,
        }
    }
}
