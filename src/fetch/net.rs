//! The network settings every download request uses, built the way pip would find them:
//! pip's configuration files and `PIP_*` variables (`proxy`, `cert`, `client-cert`,
//! `trusted-host`), the standard proxy variables, credentials in the URL and `.netrc`.
//!
//! Everything is read from a [`HostEnv`] value, never from the process environment directly,
//! so tests describe their own environment. Keyring credentials are not supported
//! (docs/fetch.md).

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::redirect::{Attempt, Policy};
use url::Url;

use super::error::FetchError;
use crate::facts::Os;
use crate::facts::platform::HostEnv;
use crate::facts::python::pipconf;

/// How torchup talks to download servers: what pip's configuration and the environment say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetConfig {
    /// pip's `proxy` (config or `PIP_PROXY`): one proxy for every scheme; beats the variables.
    pub proxy: Option<String>,
    /// `HTTPS_PROXY` / `https_proxy`.
    pub https_proxy: Option<String>,
    /// `HTTP_PROXY` / `http_proxy`.
    pub http_proxy: Option<String>,
    /// `ALL_PROXY` / `all_proxy`.
    pub all_proxy: Option<String>,
    /// `NO_PROXY` / `no_proxy`.
    pub no_proxy: Option<String>,
    /// pip's `cert`: a PEM bundle that replaces the default CA roots (as pip's `--cert` does).
    pub cert: Option<PathBuf>,
    /// pip's `client-cert`: one PEM file with the client certificate and its private key.
    pub client_cert: Option<PathBuf>,
    /// pip's `trusted-host`: `host` or `host:port`; plain http is allowed to these.
    pub trusted_hosts: Vec<String>,
    /// The netrc file to read credentials from (`NETRC`, else `~/.netrc`, `~/_netrc` on Windows).
    pub netrc: Option<PathBuf>,
    /// Where each setting came from, for logs ("proxy from /etc/pip.conf").
    pub sources: Vec<String>,
}

impl NetConfig {
    /// No proxy, default CA roots, no netrc: what tests and `--offline` checks start from.
    pub fn direct() -> NetConfig {
        NetConfig::default()
    }

    /// The settings pip would use for this environment: config files in pip's order
    /// (`[global]` then `[install]` of each; later files win), then `PIP_*` variables,
    /// then the standard proxy variables and netrc. `prefix` is the target's `sys.prefix`.
    pub fn from_pip(os: Os, env: &HostEnv, prefix: Option<&Path>) -> NetConfig {
        let mut cfg = NetConfig::default();
        for file in pipconf::config_files(os, env, prefix) {
            let Ok(text) = std::fs::read_to_string(&file) else { continue };
            for (key, value) in pip_settings(&text) {
                cfg.apply(&key, &value, &file.display().to_string());
            }
        }
        for (var, key) in [
            ("PIP_PROXY", "proxy"),
            ("PIP_CERT", "cert"),
            ("PIP_CLIENT_CERT", "client-cert"),
            ("PIP_TRUSTED_HOST", "trusted-host"),
        ] {
            if let Some(v) = env.get(var) {
                cfg.apply(key, &v, var);
            }
        }
        let var = |names: [&str; 2]| names.iter().find_map(|n| env.get(n));
        cfg.https_proxy = var(["https_proxy", "HTTPS_PROXY"]);
        cfg.http_proxy = var(["http_proxy", "HTTP_PROXY"]);
        cfg.all_proxy = var(["all_proxy", "ALL_PROXY"]);
        cfg.no_proxy = var(["no_proxy", "NO_PROXY"]);
        // requests (pip) honours these when no `cert` is configured.
        if cfg.cert.is_none()
            && let Some(bundle) = var(["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
        {
            cfg.cert = Some(PathBuf::from(bundle));
            cfg.sources.push("cert from REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE".into());
        }
        cfg.netrc = netrc_path(os, env);
        cfg
    }

    fn apply(&mut self, key: &str, value: &str, source: &str) {
        match key {
            "proxy" => self.proxy = Some(value.trim().to_string()).filter(|v| !v.is_empty()),
            "cert" => self.cert = Some(PathBuf::from(value.trim())),
            "client-cert" => self.client_cert = Some(PathBuf::from(value.trim())),
            "trusted-host" => {
                self.trusted_hosts = value.split_whitespace().map(|h| h.to_ascii_lowercase()).collect();
            }
            _ => return,
        }
        self.sources.push(format!("{key} from {source}"));
    }

    /// Whether plain http may be used for this URL: loopback always, other hosts only when
    /// pip's `trusted-host` names them (as `host` or `host:port`).
    pub fn http_allowed(&self, url: &Url) -> bool {
        if is_loopback(url) {
            return true;
        }
        let Some(host) = url.host_str() else { return false };
        let host = host.to_ascii_lowercase();
        let with_port = url.port_or_known_default().map(|p| format!("{host}:{p}"));
        self.trusted_hosts.iter().any(|t| *t == host || Some(t) == with_port.as_ref())
    }

    /// Refuse what torchup never downloads from: other schemes, and plain http to a host
    /// that is neither loopback nor trusted.
    pub fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        match url.scheme() {
            "https" => Ok(()),
            "http" if self.http_allowed(url) => Ok(()),
            "http" => Err(FetchError::InsecureUrl { url: redact(url) }),
            other => Err(FetchError::BadUrl { url: redact(url), reason: format!("unsupported scheme `{other}`") }),
        }
    }

    /// The user name and password for a URL: from the URL itself, else from netrc.
    pub fn credentials(&self, url: &Url) -> Option<(String, Option<String>)> {
        if !url.username().is_empty() {
            let user = percent_decode(url.username());
            return Some((user, url.password().map(percent_decode)));
        }
        let host = url.host_str()?;
        let file = std::fs::File::open(self.netrc.as_ref()?).ok()?;
        let netrc = netrc::Netrc::parse(std::io::BufReader::new(file)).ok()?;
        let machine = netrc
            .hosts
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(host))
            .map(|(_, m)| m)
            .or(netrc.default.as_ref())?;
        Some((machine.login.clone(), machine.password.clone()))
    }

    /// The HTTP client for downloads from `loopback` or remote hosts. Loopback gets no proxy
    /// (a proxy cannot reach this machine's loopback). Redirects stay on allowed schemes.
    pub fn client(
        &self,
        loopback: bool,
        connect_timeout: Duration,
        max_redirects: usize,
    ) -> Result<reqwest::Client, FetchError> {
        let policy_cfg = self.clone();
        let policy = Policy::custom(move |attempt: Attempt| {
            if attempt.previous().len() > max_redirects {
                return attempt.error(format!("more than {max_redirects} redirects (a redirect loop?)"));
            }
            if let Err(e) = policy_cfg.check_url(attempt.url()) {
                return attempt.error(e.to_string());
            }
            attempt.follow()
        });
        let mut b = reqwest::Client::builder()
            .user_agent(crate::compat::index::USER_AGENT)
            .connect_timeout(connect_timeout)
            // Segments must be separate TCP connections: CDNs throttle per connection, and
            // HTTP/2 would multiplex every range over one (as pip, curl -Z and aria2 use 1.1).
            .http1_only()
            .redirect(policy)
            // Wheels are zip files: never let a transparent decompression change the bytes.
            .no_gzip()
            .no_brotli()
            .no_zstd()
            .no_deflate();
        if loopback {
            b = b.no_proxy();
        } else {
            for proxy in self.proxies()? {
                b = b.proxy(proxy);
            }
        }
        if let Some(path) = &self.cert {
            let pem = std::fs::read(path)
                .map_err(|e| FetchError::Config(format!("cannot read pip's cert bundle {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                FetchError::Config(format!("pip's cert bundle {} is not a PEM bundle: {e}", path.display()))
            })?;
            if certs.is_empty() {
                return Err(FetchError::Config(format!("pip's cert bundle {} holds no certificate", path.display())));
            }
            b = b.tls_certs_only(certs);
        }
        if let Some(path) = &self.client_cert {
            let pem = std::fs::read(path)
                .map_err(|e| FetchError::Config(format!("cannot read pip's client-cert {}: {e}", path.display())))?;
            let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
                FetchError::Config(format!(
                    "pip's client-cert {} must hold a PEM certificate and its private key: {e}",
                    path.display()
                ))
            })?;
            b = b.identity(id);
        }
        b.build().map_err(|e| FetchError::Config(format!("cannot start the HTTP client: {}", root_cause(&e))))
    }

    /// Explicit proxies from pip's `proxy` or the variables in this [`HostEnv`]; none means
    /// reqwest's system settings (the Windows/macOS proxy settings) stay in effect.
    fn proxies(&self) -> Result<Vec<reqwest::Proxy>, FetchError> {
        let no_proxy = self.no_proxy.as_deref().and_then(reqwest::NoProxy::from_string);
        let bad = |what: &str, e: reqwest::Error| {
            FetchError::Config(format!(
                "invalid {what} proxy URL: {}; fix it in pip's config or the variable",
                root_cause(&e)
            ))
        };
        let mut out = Vec::new();
        if let Some(p) = &self.proxy {
            out.push(reqwest::Proxy::all(p).map_err(|e| bad("pip", e))?.no_proxy(no_proxy));
            return Ok(out);
        }
        if let Some(p) = &self.https_proxy {
            out.push(reqwest::Proxy::https(p).map_err(|e| bad("HTTPS_PROXY", e))?.no_proxy(no_proxy.clone()));
        }
        if let Some(p) = &self.http_proxy {
            out.push(reqwest::Proxy::http(p).map_err(|e| bad("HTTP_PROXY", e))?.no_proxy(no_proxy.clone()));
        }
        if let Some(p) = &self.all_proxy {
            out.push(reqwest::Proxy::all(p).map_err(|e| bad("ALL_PROXY", e))?.no_proxy(no_proxy));
        }
        Ok(out)
    }
}

/// `(key, value)` of the network settings in a pip config file, `[global]` before
/// `[install]` (pip's precedence within one file), read by [`pipconf::parse`].
pub(crate) fn pip_settings(text: &str) -> Vec<(String, String)> {
    const KEYS: [&str; 4] = ["proxy", "cert", "client-cert", "trusted-host"];
    let settings: Vec<_> = pipconf::parse(text).into_iter().filter(|s| KEYS.contains(&s.key.as_str())).collect();
    ["global", "install"]
        .iter()
        .flat_map(|section| settings.iter().filter(move |s| s.section == *section))
        .map(|s| (s.key.clone(), s.value.clone()))
        .collect()
}

/// `NETRC`, else `~/.netrc` (and `~/_netrc` on Windows), if the file exists.
fn netrc_path(os: Os, env: &HostEnv) -> Option<PathBuf> {
    if let Some(p) = env.get("NETRC") {
        return Some(PathBuf::from(p));
    }
    let home = PathBuf::from(env.get(if os == Os::Windows { "USERPROFILE" } else { "HOME" })?);
    let names: &[&str] = if os == Os::Windows { &[".netrc", "_netrc"] } else { &[".netrc"] };
    names.iter().map(|n| home.join(n)).find(|p| p.is_file())
}

pub(crate) use crate::compat::index_url::is_loopback;

/// A URL fit for logs and errors: credentials masked the one way (`crate::redact`).
pub(crate) use crate::compat::index_url::redact_url as redact;

/// The same URL without user name and password (credentials go into a header instead).
pub(crate) fn without_credentials(url: &Url) -> Url {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u
}

pub(crate) use crate::compat::index::root_cause;
use crate::compat::wheel_name::percent_decode;

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn settings_from_a_pip_config_file() {
        let text = "[global]\nproxy = http://proxy.corp:3128\ntrusted-host = mirror.lan\n    other.lan:8080\n\
                    index-url = https://x\n[install]\nclient_cert: /etc/me.pem\n[download]\ncert = /ignored\n";
        assert_eq!(
            pip_settings(text),
            vec![
                ("proxy".to_string(), "http://proxy.corp:3128".to_string()),
                ("trusted-host".to_string(), "mirror.lan other.lan:8080".to_string()),
                ("client-cert".to_string(), "/etc/me.pem".to_string()),
            ]
        );
    }

    #[test]
    fn config_files_then_variables() {
        let tmp = tempfile::tempdir().unwrap();
        let conf = tmp.path().join("pip.conf");
        std::fs::write(&conf, "[global]\nproxy = http://from-file:1\ncert = /etc/ca.pem\ntrusted-host = a.lan\n")
            .unwrap();
        std::fs::write(tmp.path().join(".netrc"), "machine files.lan login u password p\n").unwrap();
        let env = HostEnv::from_pairs([
            ("PIP_CONFIG_FILE", conf.to_string_lossy().into_owned()),
            ("XDG_CONFIG_DIRS", tmp.path().join("none").to_string_lossy().into_owned()),
            ("HOME", tmp.path().to_string_lossy().into_owned()),
            ("PIP_TRUSTED_HOST", "b.lan c.lan:8080".into()),
            ("https_proxy", "http://env:2".into()),
            ("NO_PROXY", "internal.lan".into()),
        ]);
        let cfg = NetConfig::from_pip(Os::Linux, &env, None);
        assert_eq!(cfg.proxy.as_deref(), Some("http://from-file:1"));
        assert_eq!(cfg.cert.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(cfg.trusted_hosts, ["b.lan", "c.lan:8080"]);
        assert_eq!(cfg.https_proxy.as_deref(), Some("http://env:2"));
        assert_eq!(cfg.no_proxy.as_deref(), Some("internal.lan"));
        assert_eq!(cfg.netrc, Some(tmp.path().join(".netrc")));
        assert_eq!(cfg.credentials(&url("https://files.lan/a.whl")), Some(("u".into(), Some("p".into()))));
        assert_eq!(cfg.credentials(&url("https://other.lan/a.whl")), None);
        assert_eq!(
            cfg.credentials(&url("https://me:p%40ss@other.lan/a.whl")),
            Some(("me".into(), Some("p@ss".into())))
        );
    }

    #[test]
    fn plain_http_only_to_loopback_or_trusted_hosts() {
        let cfg =
            NetConfig { trusted_hosts: vec!["mirror.lan".into(), "other.lan:8080".into()], ..NetConfig::direct() };
        for ok in [
            "https://download.pytorch.org/a.whl",
            "http://127.0.0.1:9/a.whl",
            "http://localhost/a.whl",
            "http://[::1]/a.whl",
            "http://mirror.lan/a.whl",
            "http://other.lan:8080/a.whl",
        ] {
            assert!(cfg.check_url(&url(ok)).is_ok(), "{ok}");
        }
        for bad in ["http://download.pytorch.org/a.whl", "http://other.lan/a.whl", "ftp://mirror.lan/a.whl"] {
            assert!(cfg.check_url(&url(bad)).is_err(), "{bad}");
        }
        let e = cfg.check_url(&url("http://u:secret@evil.example/a.whl")).unwrap_err().to_string();
        assert!(!e.contains("secret") && e.contains("trusted-host"), "{e}");
    }

    #[test]
    fn bad_settings_are_clear_errors() {
        let cfg = NetConfig { cert: Some("/nonexistent/ca.pem".into()), ..NetConfig::direct() };
        let e = cfg.client(false, Duration::from_secs(1), 5).unwrap_err().to_string();
        assert!(e.contains("cert bundle /nonexistent/ca.pem"), "{e}");
        let cfg = NetConfig { proxy: Some("::not a url::".into()), ..NetConfig::direct() };
        let e = cfg.client(false, Duration::from_secs(1), 5).unwrap_err().to_string();
        assert!(e.contains("proxy"), "{e}");
        assert!(NetConfig::direct().client(true, Duration::from_secs(1), 5).is_ok());
    }

    #[test]
    fn redaction() {
        assert_eq!(redact(&url("https://u:pw@h/x")), "https://u:***@h/x");
        assert_eq!(without_credentials(&url("https://u:pw@h/x")).as_str(), "https://h/x");
    }
}
