//! Container output: snapshots and a follow stream of lines.

use std::pin::Pin;
use std::task::{Context, Poll};

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

use std::sync::Arc;

use crate::container::{Container, Inner};
use crate::engine;
use crate::error::{Error, Result};

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of container output, without its line ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Where it was written.
    pub source: Source,
    /// The text (invalid UTF-8 replaced).
    pub text: String,
}

/// The output of a container so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Logs {
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

/// Joins frames into whole lines, per source: the engine splits output
/// wherever the process's writes fell, not at line ends.
#[derive(Default)]
pub(crate) struct LineAssembler {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl LineAssembler {
    /// Feeds one frame; returns the lines it completed.
    pub(crate) fn push(&mut self, source: Source, bytes: &[u8]) -> Vec<LogLine> {
        let buf = match source {
            Source::Stdout => &mut self.stdout,
            Source::Stderr => &mut self.stderr,
        };
        buf.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            let rest = buf.split_off(pos + 1);
            let mut line = std::mem::replace(buf, rest);
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            lines.push(LogLine {
                source,
                text: String::from_utf8_lossy(&line).into_owned(),
            });
        }
        lines
    }

    /// The unterminated rest of each source, at end of stream.
    pub(crate) fn finish(&mut self) -> Vec<LogLine> {
        [
            (Source::Stdout, &mut self.stdout),
            (Source::Stderr, &mut self.stderr),
        ]
        .into_iter()
        .filter(|(_, b)| !b.is_empty())
        .map(|(source, b)| LogLine {
            source,
            text: String::from_utf8_lossy(&std::mem::take(b)).into_owned(),
        })
        .collect()
    }
}

pub(crate) fn frame(out: &LogOutput) -> Option<(Source, &[u8])> {
    match out {
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            Some((Source::Stdout, message.as_ref()))
        }
        LogOutput::StdErr { message } => Some((Source::Stderr, message.as_ref())),
        LogOutput::StdIn { .. } => None,
    }
}

/// A stream of a container's output lines, as they are written.
///
/// Ends when the container stops; dropping it stops following.
pub struct LogStream {
    rx: mpsc::Receiver<Result<LogLine>>,
    task: tokio::task::AbortHandle,
}

impl Stream for LogStream {
    type Item = Result<LogLine>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for LogStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for LogStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogStream")
    }
}

impl Container {
    /// Everything the container has written so far, stdout and stderr apart.
    pub async fn logs(&self) -> Result<Logs> {
        let lines = self.log_lines(None).await?;
        let mut logs = Logs::default();
        for line in lines {
            let out = match line.source {
                Source::Stdout => &mut logs.stdout,
                Source::Stderr => &mut logs.stderr,
            };
            out.push_str(&line.text);
            out.push('\n');
        }
        Ok(logs)
    }

    /// The last `n` lines the container wrote, stdout and stderr interleaved
    /// in the order the engine recorded them.
    pub async fn tail(&self, n: usize) -> Result<Vec<LogLine>> {
        self.log_lines(Some(n)).await
    }

    async fn log_lines(&self, tail: Option<usize>) -> Result<Vec<LogLine>> {
        engine::run(lines_of(self.inner.clone(), tail)).await
    }

    /// Follows the container's output from its first line, as it is written.
    ///
    /// ```no_run
    /// # async fn demo(c: dockhand::Container) -> dockhand::Result<()> {
    /// use futures::StreamExt;
    /// let mut lines = c.follow_logs();
    /// while let Some(line) = lines.next().await {
    ///     if line?.text.contains("ready") { break; }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn follow_logs(&self) -> LogStream {
        let inner = self.inner.clone();
        let (tx, rx) = mpsc::channel(256);
        let fut = async move {
            let opts = LogsOptionsBuilder::default()
                .stdout(true)
                .stderr(true)
                .follow(true)
                .build();
            tracing::debug!(parent: &inner.span, "engine: logs (follow)");
            let mut stream = inner.docker().logs(&inner.id, Some(opts));
            let mut asm = LineAssembler::default();
            while let Some(item) = stream.next().await {
                let lines = match item {
                    Ok(out) => match frame(&out) {
                        Some((source, bytes)) => asm.push(source, bytes),
                        None => continue,
                    },
                    Err(e) => {
                        let _ = tx
                            .send(Err(Error::engine(inner.action("follow logs of"), e)))
                            .await;
                        return;
                    }
                };
                for line in lines {
                    if tx.send(Ok(line)).await.is_err() {
                        return;
                    }
                }
            }
            for line in asm.finish() {
                if tx.send(Ok(line)).await.is_err() {
                    return;
                }
            }
        };
        let task = engine::spawn(fut);
        LogStream { rx, task }
    }
}

/// The last `n` lines of a container; called on the engine runtime.
pub(crate) async fn tail_of(inner: Arc<Inner>, n: usize) -> Result<Vec<LogLine>> {
    lines_of(inner, Some(n)).await
}

async fn lines_of(inner: Arc<Inner>, tail: Option<usize>) -> Result<Vec<LogLine>> {
    let tail = tail.map_or_else(|| "all".to_string(), |n| n.to_string());
    let opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail(&tail)
        .build();
    tracing::debug!(parent: &inner.span, "engine: logs");
    let mut stream = inner.docker().logs(&inner.id, Some(opts));
    let mut asm = LineAssembler::default();
    let mut lines = Vec::new();
    while let Some(item) = stream.next().await {
        let out = item.map_err(|e| Error::engine(inner.action("read logs of"), e))?;
        if let Some((source, bytes)) = frame(&out) {
            lines.extend(asm.push(source, bytes));
        }
    }
    lines.extend(asm.finish());
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_frames_are_joined() {
        let mut asm = LineAssembler::default();
        assert!(asm.push(Source::Stdout, b"database sys").is_empty());
        assert!(asm.push(Source::Stderr, b"warn").is_empty());
        let lines = asm.push(Source::Stdout, b"tem is ready\r\nnext");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text, "database system is ready");
        let rest = asm.finish();
        assert_eq!(rest.len(), 2);
        assert_eq!(rest[0].text, "next");
        assert_eq!(rest[1].source, Source::Stderr);
    }
}
