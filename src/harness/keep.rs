//! When a test's containers outlive it, for debugging.

use std::str::FromStr;

use crate::error::Error;

/// Whether a test's containers are kept after it ends.
///
/// Set per test with `#[dockhand::test(keep = "on-failure")]`, or for a whole
/// run with `DOCKHAND_KEEP=never|on-failure|always` (the option wins).
/// Kept containers are labelled `dockhand.keep=true` and a banner tells how
/// to reach and remove them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeepPolicy {
    /// Remove every container when the test ends (the default).
    #[default]
    Never,
    /// Keep the containers of a failed test (panic or `Err`).
    OnFailure,
    /// Keep the containers whatever the outcome.
    Always,
}

impl KeepPolicy {
    /// The policy from `DOCKHAND_KEEP`, `Never` when unset.
    ///
    /// An unparseable value is reported as an error rather than ignored.
    pub fn from_env() -> Result<KeepPolicy, Error> {
        match std::env::var("DOCKHAND_KEEP") {
            Ok(v) if !v.trim().is_empty() => v.parse(),
            _ => Ok(KeepPolicy::Never),
        }
    }

    pub(crate) fn keeps(self, failed: bool) -> bool {
        match self {
            KeepPolicy::Never => false,
            KeepPolicy::OnFailure => failed,
            KeepPolicy::Always => true,
        }
    }
}

impl FromStr for KeepPolicy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "never" | "0" | "false" | "no" => Ok(KeepPolicy::Never),
            "on-failure" | "failure" | "failed" => Ok(KeepPolicy::OnFailure),
            "always" | "1" | "true" | "yes" => Ok(KeepPolicy::Always),
            _ => Err(Error::invalid(
                format!("keep policy `{s}`"),
                "use `never`, `on-failure` or `always` (in DOCKHAND_KEEP or the `keep` option)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::KeepPolicy;

    #[test]
    fn parses_policies() {
        assert_eq!(
            "on-failure".parse::<KeepPolicy>().unwrap(),
            KeepPolicy::OnFailure
        );
        assert_eq!("ALWAYS".parse::<KeepPolicy>().unwrap(), KeepPolicy::Always);
        assert_eq!(
            "on_failure".parse::<KeepPolicy>().unwrap(),
            KeepPolicy::OnFailure
        );
        let err = "sometimes".parse::<KeepPolicy>().unwrap_err().to_string();
        assert!(err.contains("on-failure"), "{err}");
        assert!(KeepPolicy::OnFailure.keeps(true) && !KeepPolicy::OnFailure.keeps(false));
    }
}
