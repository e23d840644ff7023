//! Registry credentials: given explicitly, or read from the Docker CLI's
//! `config.json` (`auths` entries), the way `docker login` stores them.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use bollard::auth::DockerCredentials;

use crate::error::{Error, Result};

/// Credentials for one registry.
///
/// ```
/// let creds = dockhand::Credentials::new("ci", "s3cret");
/// assert_eq!(creds.username(), Some("ci"));
/// // The password never shows in logs:
/// assert!(!format!("{creds:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: Option<String>,
    password: Option<String>,
    identity_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field(
                "identity_token",
                &self.identity_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Credentials {
    /// A user name and password (or access token used as a password).
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: Some(username.into()),
            password: Some(password.into()),
            identity_token: None,
        }
    }

    /// An OAuth identity token, as `docker login` stores for some registries.
    pub fn identity_token(token: impl Into<String>) -> Self {
        Credentials {
            username: None,
            password: None,
            identity_token: Some(token.into()),
        }
    }

    /// The user name, if any.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// What the engine wants in its `X-Registry-Auth` header.
    pub(crate) fn to_engine(&self, registry: &str) -> DockerCredentials {
        DockerCredentials {
            username: self.username.clone(),
            password: self.password.clone(),
            identitytoken: self.identity_token.clone(),
            serveraddress: Some(registry.to_string()),
            ..Default::default()
        }
    }
}

/// The `auths` of a Docker CLI configuration (`config.json`).
///
/// Entries hold either `auth` (base64 of `user:password`), or `username` and
/// `password`, or an `identitytoken`. Credential helpers (`credsStore`,
/// `credHelpers`) are not run: pass [`Credentials`] explicitly for those.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(
///     dir.path().join("config.json"),
///     r#"{"auths":{"127.0.0.1:5001":{"auth":"dXNlcjpzZWNyZXQ="}}}"#,
/// ).unwrap();
/// let config = dockhand::DockerConfig::load(dir.path()).unwrap();
/// let creds = config.credentials_for("127.0.0.1:5001").unwrap();
/// assert_eq!(creds, dockhand::Credentials::new("user", "secret"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct DockerConfig {
    auths: HashMap<String, Credentials>,
}

impl DockerConfig {
    /// Where the Docker CLI keeps its configuration: `$DOCKER_CONFIG/config.json`,
    /// else `~/.docker/config.json`.
    pub fn default_path() -> PathBuf {
        config_path(
            std::env::var_os("DOCKER_CONFIG").map(PathBuf::from),
            std::env::var_os("HOME").map(PathBuf::from),
        )
    }

    /// Reads the configuration at [`default_path`](Self::default_path); a
    /// missing file gives an empty configuration.
    pub fn from_env() -> Result<Self> {
        let path = Self::default_path();
        if !path.exists() {
            return Ok(DockerConfig::default());
        }
        Self::load(path)
    }

    /// Reads a configuration from a `config.json` file, or from a folder
    /// holding one (like `DOCKER_CONFIG`).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let mut path = path.as_ref().to_path_buf();
        if path.is_dir() {
            path.push("config.json");
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("reading Docker config `{}`", path.display()), e))?;
        Self::parse(&text).map_err(|why| {
            Error::invalid(
                format!("Docker config `{}`", path.display()),
                format!("{why}; fix the file or pass `Credentials` explicitly"),
            )
        })
    }

    fn parse(text: &str) -> std::result::Result<Self, String> {
        let json: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut auths = HashMap::new();
        let Some(entries) = json.get("auths").and_then(|a| a.as_object()) else {
            return Ok(DockerConfig { auths });
        };
        for (server, entry) in entries {
            let field = |k: &str| {
                entry
                    .get(k)
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.is_empty())
            };
            let creds = if let Some(encoded) = field("auth") {
                let decoded = base64_decode(encoded)
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| format!("`auths.{server}.auth` is not valid base64"))?;
                let (user, pass) = decoded.split_once(':').ok_or_else(|| {
                    format!("`auths.{server}.auth` does not hold `user:password`")
                })?;
                Credentials::new(user, pass)
            } else if let (Some(user), Some(pass)) = (field("username"), field("password")) {
                Credentials::new(user, pass)
            } else if let Some(token) = field("identitytoken") {
                Credentials::identity_token(token)
            } else {
                continue;
            };
            auths.insert(registry_key(server), creds);
        }
        Ok(DockerConfig { auths })
    }

    /// The credentials stored for `registry` (a host with an optional port,
    /// e.g. `127.0.0.1:5000`, or `docker.io` for Docker Hub).
    pub fn credentials_for(&self, registry: &str) -> Option<Credentials> {
        self.auths.get(&registry_key(registry)).cloned()
    }
}

/// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
fn config_path(docker_config: Option<PathBuf>, home: Option<PathBuf>) -> PathBuf {
    match docker_config.filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir.join("config.json"),
        None => home
            .unwrap_or_else(|| PathBuf::from("/"))
            .join(".docker")
            .join("config.json"),
    }
}

/// One spelling per registry: no scheme, no path, and every name of
/// Docker Hub folded into `docker.io`.
fn registry_key(server: &str) -> String {
    let s = server
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = s.split('/').next().unwrap_or(s).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".into()
        }
        _ => host,
    }
}

/// The credentials to send for `registry`: the explicit ones, else those of
/// the given config (or the default one).
pub(crate) fn resolve(
    explicit: Option<&Credentials>,
    config: Option<&Path>,
    registry: &str,
) -> Result<Option<Credentials>> {
    if let Some(c) = explicit {
        return Ok(Some(c.clone()));
    }
    Ok(load_or_default(config)?.credentials_for(registry))
}

/// The given config (errors reported), or the default one (errors logged:
/// a broken `~/.docker/config.json` must not fail a pull that needs no auth).
fn load_or_default(config: Option<&Path>) -> Result<DockerConfig> {
    match config {
        Some(p) => DockerConfig::load(p),
        None => Ok(DockerConfig::from_env().unwrap_or_else(|e| {
            tracing::warn!("dockhand: ignoring the Docker config: {e}");
            DockerConfig::default()
        })),
    }
}

/// Every registry's credentials for a build (the engine's `X-Registry-Config`,
/// used to pull `FROM` images): the config's, overridden by the explicit ones.
pub(crate) fn for_build(
    explicit: &[(String, Credentials)],
    config: Option<&Path>,
) -> Result<HashMap<String, DockerCredentials>> {
    let mut all = load_or_default(config)?.auths;
    for (registry, creds) in explicit {
        all.insert(registry_key(registry), creds.clone());
    }
    Ok(all
        .into_iter()
        .map(|(registry, creds)| {
            // The engine knows Docker Hub by its v1 index address.
            let server = match registry.as_str() {
                "docker.io" => "https://index.docker.io/v1/".to_string(),
                _ => registry,
            };
            let engine = creds.to_engine(&server);
            (server, engine)
        })
        .collect())
}

/// Standard base64 (padding optional). The only base64 dockhand reads is a
/// `config.json` `auth` field, not worth a dependency.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    }
    let bytes: Vec<u8> = s
        .bytes()
        .filter(|&b| b != b'=' && !b.is_ascii_whitespace())
        .collect();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let n = chunk.len() - 1;
        out.extend_from_slice(&acc.to_be_bytes()[1..1 + n]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_known_values() {
        assert_eq!(base64_decode("dXNlcjpzZWNyZXQ=").unwrap(), b"user:secret");
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert_eq!(base64_decode("YWJj").unwrap(), b"abc");
        assert!(base64_decode("a").is_none());
        assert!(base64_decode("*bad").is_none());
    }

    #[test]
    fn config_path_prefers_docker_config() {
        assert_eq!(
            config_path(Some("/etc/dc".into()), Some("/home/u".into())),
            PathBuf::from("/etc/dc/config.json")
        );
        assert_eq!(
            config_path(None, Some("/home/u".into())),
            PathBuf::from("/home/u/.docker/config.json")
        );
        assert_eq!(
            config_path(Some("".into()), Some("/home/u".into())),
            PathBuf::from("/home/u/.docker/config.json")
        );
    }

    #[test]
    fn auths_entries_in_every_form() {
        let config = DockerConfig::parse(
            r#"{"auths":{
                "https://index.docker.io/v1/":{"auth":"aHViOnB3"},
                "127.0.0.1:5001":{"username":"u","password":"p"},
                "http://reg.example:443/v2/":{"identitytoken":"tok"},
                "empty.example":{}
            }, "credsStore":"desktop"}"#,
        )
        .unwrap();
        assert_eq!(
            config.credentials_for("docker.io"),
            Some(Credentials::new("hub", "pw"))
        );
        assert_eq!(
            config.credentials_for("127.0.0.1:5001"),
            Some(Credentials::new("u", "p"))
        );
        assert_eq!(
            config.credentials_for("reg.example:443"),
            Some(Credentials::identity_token("tok"))
        );
        assert_eq!(config.credentials_for("empty.example"), None);
        assert!(DockerConfig::parse(r#"{"auths":{"x":{"auth":"!!"}}}"#).is_err());
    }
}
