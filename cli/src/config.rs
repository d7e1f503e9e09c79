//! Where settings come from, first found wins: a command-line flag, its environment variable
//! (clap reads both), then the profile in the configuration file.
//!
//! ```toml
//! # ~/.config/clavis/config.toml
//! [default]
//! url = "http://127.0.0.1:3000"
//! tenant = "demo"
//!
//! [production]
//! url = "https://api.example.com"
//! tenant = "acme"
//!
//! [staging]
//! url = "http://10.0.0.5:3000"   # not this machine: refused unless allowed
//! allow_insecure_http = true
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

use crate::args::Global;
use crate::error::CliError;

/// The settings a command runs with, each from the first place that has it.
pub struct Settings {
    pub url: Option<String>,
    pub tenant: Option<String>,
    pub token: Option<SecretString>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    /// Whether an http:// URL to another machine may be used: the flag, its environment
    /// variable, or the profile said so.
    pub allow_insecure_http: bool,
    /// The configuration file read (or that would have been), for hints.
    file: Option<PathBuf>,
}

impl Settings {
    pub fn resolve(global: &Global) -> Result<Self, CliError> {
        let profile = load_profile(global.config.as_deref(), global.profile.as_deref())?;
        // Not a flag: a secret on the command line is visible to every user of the machine.
        let client_secret = std::env::var("CLAVIS_CLIENT_SECRET")
            .ok()
            .filter(|s| !s.is_empty())
            .map(SecretString::from);
        Ok(Self {
            url: global.url.clone().or(profile.url),
            tenant: global.tenant.clone().or(profile.tenant),
            token: global.token.clone().or(profile.token),
            client_id: profile.client_id,
            client_secret: client_secret.or(profile.client_secret),
            allow_insecure_http: global.allow_insecure_http
                || profile.allow_insecure_http.unwrap_or(false),
            file: global.config.clone().or_else(default_path),
        })
    }

    pub fn url(&self) -> Result<&str, CliError> {
        self.url
            .as_deref()
            .ok_or_else(|| self.missing("API URL", "--url", "CLAVIS_URL", "url", None))
    }

    pub fn tenant(&self) -> Result<&str, CliError> {
        self.tenant
            .as_deref()
            .ok_or_else(|| self.missing("tenant", "--tenant", "CLAVIS_TENANT", "tenant", None))
    }

    pub fn token(&self) -> Result<&SecretString, CliError> {
        self.token.as_ref().ok_or_else(|| {
            self.missing(
                "management token",
                "--token",
                "CLAVIS_TOKEN",
                "token",
                Some("For the local gateway, `export CLAVIS_TOKEN=$(clavis dev-token)`."),
            )
        })
    }

    /// The error for a setting found nowhere, naming every place it may come from.
    pub fn missing(
        &self,
        what: &str,
        flag: &str,
        variable: &str,
        key: &str,
        more: Option<&str>,
    ) -> CliError {
        let file = self.file.as_ref().map_or_else(
            || "the configuration file".to_owned(),
            |p| p.display().to_string(),
        );
        let mut hint =
            format!("Pass {flag}, set {variable}, or add {key} = \"…\" to a profile in {file}.");
        if let Some(more) = more {
            hint.push(' ');
            hint.push_str(more);
        }
        CliError::config(format!("no {what} given"), Some(hint))
    }
}

/// One profile of the configuration file. Tokens and secrets may be kept here too, in a file
/// only its owner can read.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub url: Option<String>,
    pub tenant: Option<String>,
    pub token: Option<SecretString>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    /// Allow its `url` to be http:// to a host other than this machine.
    pub allow_insecure_http: Option<bool>,
}

/// The configuration file's default place: `$XDG_CONFIG_HOME/clavis/config.toml`, else
/// `~/.config/clavis/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".config"))
        })?;
    Some(base.join("clavis").join("config.toml"))
}

/// The profile `name` (or `default`) of the file at `path` (or the default place). A missing
/// file is an empty profile, unless a profile or a file was asked for by name.
pub fn load_profile(path: Option<&Path>, name: Option<&str>) -> Result<Profile, CliError> {
    let explicit_file = path.is_some();
    let Some(path) = path.map(Path::to_owned).or_else(default_path) else {
        return Ok(Profile::default());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit_file => {
            return match name {
                None => Ok(Profile::default()),
                Some(name) => Err(CliError::config(
                    format!(
                        "no profile {name:?}: the configuration file {} does not exist",
                        path.display()
                    ),
                    Some(format!(
                        "Create it with a [{name}] table (url, tenant, …), or point --config / CLAVIS_CONFIG at yours."
                    )),
                )),
            };
        }
        Err(e) => return Err(CliError::file("read the configuration file", &path, e)),
    };
    let mut profiles: BTreeMap<String, Profile> = toml::from_str(&text).map_err(|e| {
        CliError::config(
            format!("the configuration file {} is not valid: {}", path.display(), e.message()),
            Some(
                "Each profile is a table such as [default] with the keys url, tenant, token, client_id and client_secret."
                    .to_owned(),
            ),
        )
    })?;
    let wanted = name.unwrap_or("default");
    match profiles.remove(wanted) {
        Some(profile) => {
            warn_if_readable_by_others(&path, &profile);
            Ok(profile)
        }
        None if name.is_none() => Ok(Profile::default()),
        None => Err(CliError::config(
            format!("no profile {wanted:?} in {}", path.display()),
            Some(if profiles.is_empty() {
                "The file has no profiles yet.".to_owned()
            } else {
                format!(
                    "Its profiles: {}.",
                    profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            }),
        )),
    }
}

fn warn_if_readable_by_others(path: &Path, profile: &Profile) {
    use std::os::unix::fs::PermissionsExt;
    if profile.token.is_none() && profile.client_secret.is_none() {
        return;
    }
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "warning: {} holds a token or secret but other users can read it; run: chmod 600 {}",
            path.display(),
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(contents: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "clavis-config-{}-{}.toml",
            std::process::id(),
            contents.len()
        ));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn profiles_are_tables_and_typos_are_named() {
        let path = file(
            "[default]\nurl = \"http://a\"\n\n[prod]\nurl = \"https://b\"\ntenant = \"acme\"\n",
        );
        let prod = load_profile(Some(&path), Some("prod")).unwrap();
        assert_eq!(prod.url.as_deref(), Some("https://b"));
        assert_eq!(prod.tenant.as_deref(), Some("acme"));
        let default = load_profile(Some(&path), None).unwrap();
        assert_eq!(default.url.as_deref(), Some("http://a"));
        assert_eq!(default.allow_insecure_http, None);
        let missing = load_profile(Some(&path), Some("staging")).unwrap_err();
        let hint = missing.hint(&Default::default()).unwrap();
        assert!(hint.contains("default, prod"), "{hint}");
        std::fs::remove_file(path).unwrap();

        let staging = file("[staging]\nurl = \"http://10.0.0.5\"\nallow_insecure_http = true\n");
        let profile = load_profile(Some(&staging), Some("staging")).unwrap();
        assert_eq!(profile.allow_insecure_http, Some(true));
        std::fs::remove_file(staging).unwrap();

        let typo = file("[default]\nurll = \"http://a\"\n");
        let error = load_profile(Some(&typo), None).unwrap_err().to_string();
        assert!(error.contains("urll"), "{error}");
        std::fs::remove_file(typo).unwrap();
    }
}
