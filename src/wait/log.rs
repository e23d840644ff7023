//! The log probe: a line of output, read from the follow stream as it arrives.

use std::fmt;
use std::time::Duration;

use futures::StreamExt;
use regex::Regex;

use super::{Ctx, Failure, Seen};
use crate::logs::Source;

/// How long to wait for the exit code once the log stream ended: the stream
/// ends when the container stops, a moment before the engine's wait answers.
const EXIT_NEWS_LIMIT: Duration = Duration::from_secs(5);

/// Waits for a line of output; from [`WaitFor::log`](super::WaitFor::log)
/// or [`WaitFor::log_regex`](super::WaitFor::log_regex).
///
/// ```
/// use dockhand::{Source, WaitFor};
/// use std::time::Duration;
/// let probe = WaitFor::log_regex(r"ready to accept connections")
///     .times(2)
///     .on(Source::Stderr)
///     .timeout(Duration::from_secs(20));
/// # let _ = probe;
/// ```
#[derive(Clone)]
pub struct LogProbe {
    pattern: Pattern,
    times: usize,
    /// Lines count only once a line matching this was seen.
    after: Option<Pattern>,
    source: Option<Source>,
    pub(super) timeout: Option<Duration>,
}

#[derive(Clone)]
enum Pattern {
    Substring(String),
    /// The compiled pattern, or the pattern and why it does not compile.
    Regex(Result<Regex, (String, String)>),
}

impl Pattern {
    fn is_match(&self, text: &str) -> bool {
        match self {
            Pattern::Substring(s) => text.contains(s.as_str()),
            Pattern::Regex(Ok(re)) => re.is_match(text),
            Pattern::Regex(Err(_)) => false,
        }
    }
}

impl LogProbe {
    pub(super) fn substring(text: String) -> Self {
        Self::with(Pattern::Substring(text))
    }

    pub(super) fn regex(pattern: &str) -> Self {
        let compiled = Regex::new(pattern).map_err(|e| (pattern.to_string(), e.to_string()));
        Self::with(Pattern::Regex(compiled))
    }

    fn with(pattern: Pattern) -> Self {
        LogProbe {
            pattern,
            times: 1,
            after: None,
            source: None,
            timeout: None,
        }
    }

    /// Waits until `n` lines matched (default 1). Postgres, for one, prints
    /// its ready line once for its init server and once for real.
    pub fn times(mut self, n: usize) -> Self {
        self.times = n.max(1);
        self
    }

    /// Counts matching lines only once a line containing `text` was seen:
    /// the state-independent way to wait for a server that prints its ready
    /// line once for an init pass and once for real, but only once when it
    /// starts from data made earlier (a snapshot).
    ///
    /// ```
    /// use dockhand::WaitFor;
    /// // Postgres: the init server listens on a socket only, the real one on TCP.
    /// let probe = WaitFor::log("ready to accept connections").after("listening on IPv4");
    /// # let _ = probe;
    /// ```
    pub fn after(mut self, text: impl Into<String>) -> Self {
        self.after = Some(Pattern::Substring(text.into()));
        self
    }

    /// Only looks at lines written to this stream (default: both).
    pub fn on(mut self, source: Source) -> Self {
        self.source = Some(source);
        self
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        match &self.pattern {
            Pattern::Regex(Err((pattern, why))) => Err(format!(
                "log probe regex `{pattern}` does not compile: {why}"
            )),
            _ => Ok(()),
        }
    }

    fn matches(&self, source: Source, text: &str) -> bool {
        if self.source.is_some_and(|s| s != source) {
            return false;
        }
        self.pattern.is_match(text)
    }

    pub(super) async fn run(&self, ctx: &Ctx<'_>, seen: &Seen) -> Result<(), Failure> {
        // From the container's first line: nothing written before this
        // probe started is missed, and nothing is read twice.
        let mut lines = ctx.container.follow_logs();
        let (mut matched, mut read) = (0usize, 0usize);
        let mut armed = self.after.is_none();
        let report = |matched: usize, read: usize| {
            format!(
                "log pattern seen {matched} of {} times (lines read: {read})",
                self.times
            )
        };
        seen.set(report(0, 0));
        while let Some(line) = lines.next().await {
            let line = line?;
            read += 1;
            if !armed {
                armed = self.after.as_ref().is_some_and(|a| a.is_match(&line.text));
                seen.set(report(matched, read));
                continue;
            }
            if self.matches(line.source, &line.text) {
                matched += 1;
                if matched >= self.times {
                    return Ok(());
                }
            }
            seen.set(report(matched, read));
        }
        // The follow stream ends when the container stops.
        let code = tokio::time::timeout(EXIT_NEWS_LIMIT, ctx.exited())
            .await
            .unwrap_or(None);
        Err(Failure::Exited {
            probe: format!("{self} ({})", report(matched, read)),
            code,
        })
    }
}

impl fmt::Display for LogProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pattern {
            Pattern::Substring(s) => write!(f, "log line containing {s:?}")?,
            Pattern::Regex(Ok(re)) => write!(f, "log line matching /{}/", re.as_str())?,
            Pattern::Regex(Err((p, _))) => write!(f, "log line matching /{p}/ (invalid)")?,
        }
        if self.times > 1 {
            write!(f, " ({} times)", self.times)?;
        }
        if let Some(Pattern::Substring(a)) = &self.after {
            write!(f, " after a line containing {a:?}")?;
        }
        match self.source {
            Some(Source::Stdout) => f.write_str(" on stdout"),
            Some(Source::Stderr) => f.write_str(" on stderr"),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for LogProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogProbe({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_respects_source_and_pattern() {
        let p = LogProbe::regex(r"^ready \d+$").on(Source::Stdout);
        assert!(p.matches(Source::Stdout, "ready 42"));
        assert!(!p.matches(Source::Stderr, "ready 42"));
        assert!(!p.matches(Source::Stdout, "not ready 42"));
        let s = LogProbe::substring("ready".into());
        assert!(Pattern::Substring("IPv4".into()).is_match("listening on IPv4 address"));
        assert!(s.matches(Source::Stderr, "database is ready now"));
    }
}
