//! The default AWS credential chain, as the AWS SDKs walk it: the environment, the shared
//! config and credentials files, the container credentials endpoint, EC2 instance metadata
//! (IMDSv2). Temporary credentials are cached until five minutes before they expire.

use super::aws_http::{json_strings, request};
use crate::config::{AwsCredentials, Secret};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Reads an environment variable; a function so tests need not touch the real environment.
pub(super) type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

type EnvFn = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The process environment.
pub(super) fn real_env() -> Env {
    Arc::new(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// Credentials this close to expiry are fetched again.
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// The chain, with its cache.
pub(super) struct DefaultChain {
    pub env: Env,
    /// An explicit profile (`awsProfileName`): only that profile is tried.
    pub profile: Option<String>,
    cached: tokio::sync::Mutex<Option<AwsCredentials>>,
}

impl DefaultChain {
    pub(super) fn new(env: Env, profile: Option<String>) -> Self {
        Self {
            env,
            profile,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    pub(super) async fn credentials(&self) -> Result<AwsCredentials, String> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            let fresh = c
                .expires_at
                .is_none_or(|at| at > SystemTime::now() + REFRESH_BEFORE);
            if fresh {
                return Ok(c.clone());
            }
        }
        let credentials = self.fetch().await?;
        *cached = Some(credentials.clone());
        Ok(credentials)
    }

    async fn fetch(&self) -> Result<AwsCredentials, String> {
        let env = &*self.env;
        if let Some(profile) = &self.profile {
            return from_profile(env, profile)?
                .ok_or_else(|| format!("AWS profile {profile:?} not found in the shared files"));
        }
        if let Some(c) = from_env(env)? {
            return Ok(c);
        }
        let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".to_string());
        if let Some(c) = from_profile(env, &profile)? {
            return Ok(c);
        }
        if let Some(c) = from_container(env).await? {
            return Ok(c);
        }
        if env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Err(no_credentials());
        }
        from_instance_metadata(env)
            .await
            .map_err(|e| format!("{}; instance metadata: {e}", no_credentials()))
    }
}

fn no_credentials() -> String {
    "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile in \
     ~/.aws/credentials (AWS_PROFILE), or run where container or instance credentials exist"
        .to_string()
}

fn from_env(env: &EnvFn) -> Result<Option<AwsCredentials>, String> {
    match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Ok(Some(AwsCredentials {
            access_key_id: id,
            secret_access_key: Secret::new(secret),
            session_token: env("AWS_SESSION_TOKEN").map(Secret::new),
            expires_at: None,
        })),
        (Some(_), None) => Err("AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY".into()),
        _ => Ok(None),
    }
}

fn shared_file(env: &EnvFn, variable: &str, default: &str) -> Option<std::path::PathBuf> {
    env(variable)
        .map(Into::into)
        .or_else(|| env("HOME").map(|home| std::path::Path::new(&home).join(".aws").join(default)))
}

/// The `key = value` pairs of section `name` of an INI file.
fn ini_section(text: &str, name: &str) -> Option<Vec<(String, String)>> {
    let mut found = None;
    let mut current = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = section.trim() == name;
            if current {
                found.get_or_insert_with(Vec::new);
            }
            continue;
        }
        if current {
            if let Some((k, v)) = line.split_once('=') {
                found
                    .get_or_insert_with(Vec::new)
                    .push((k.trim().to_string(), v.trim().to_string()));
            }
        }
    }
    found
}

fn from_profile(env: &EnvFn, profile: &str) -> Result<Option<AwsCredentials>, String> {
    let mut settings = Vec::new();
    let mut exists = false;
    if let Some(path) = shared_file(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials") {
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Some(section) = ini_section(&text, profile) {
                exists = true;
                settings.extend(section);
            }
        }
    }
    if let Some(path) = shared_file(env, "AWS_CONFIG_FILE", "config") {
        if let Ok(text) = std::fs::read_to_string(&path) {
            let name = if profile == "default" {
                "default".to_string()
            } else {
                format!("profile {profile}")
            };
            if let Some(section) = ini_section(&text, &name) {
                exists = true;
                settings.extend(section);
            }
        }
    }
    let get = |key: &str| {
        settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    match (get("aws_access_key_id"), get("aws_secret_access_key")) {
        (Some(id), Some(secret)) => Ok(Some(AwsCredentials {
            access_key_id: id,
            secret_access_key: Secret::new(secret),
            session_token: get("aws_session_token").map(Secret::new),
            expires_at: None,
        })),
        _ if exists => {
            let unsupported = [
                "role_arn",
                "credential_process",
                "sso_session",
                "sso_start_url",
                "web_identity_token_file",
            ]
            .into_iter()
            .find(|k| get(k).is_some());
            Err(match unsupported {
                Some(key) => format!(
                    "AWS profile {profile:?} uses {key}, which kafkit does not implement; give \
                     it static or temporary keys, or supply a credentials provider in code"
                ),
                None => format!(
                    "AWS profile {profile:?} has no aws_access_key_id/aws_secret_access_key"
                ),
            })
        }
        _ => Ok(None),
    }
}

async fn from_container(env: &EnvFn) -> Result<Option<AwsCredentials>, String> {
    let url = match (
        env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
        env("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
    ) {
        (Some(relative), _) => format!("http://169.254.170.2{relative}"),
        (None, Some(full)) => full,
        (None, None) => return Ok(None),
    };
    let token = match env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        Some(path) => Some(
            std::fs::read_to_string(&path)
                .map_err(|e| format!("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {path}: {e}"))?
                .trim()
                .to_string(),
        ),
        None => env("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
    };
    let headers: Vec<(&str, &str)> = token
        .iter()
        .map(|t| ("Authorization", t.as_str()))
        .collect();
    let body = request("GET", &url, &headers)
        .await
        .map_err(|e| format!("container credentials: {e}"))?;
    parse_credentials(&body).map(Some)
}

async fn from_instance_metadata(env: &EnvFn) -> Result<AwsCredentials, String> {
    let endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .unwrap_or_else(|| "http://169.254.169.254".to_string());
    let endpoint = endpoint.trim_end_matches('/');
    let token = request(
        "PUT",
        &format!("{endpoint}/latest/api/token"),
        &[("X-aws-ec2-metadata-token-ttl-seconds", "21600")],
    )
    .await?;
    let auth = [("X-aws-ec2-metadata-token", token.trim())];
    let base = format!("{endpoint}/latest/meta-data/iam/security-credentials/");
    let role = request("GET", &base, &auth).await?;
    let role = role.lines().next().unwrap_or("").trim();
    if role.is_empty() {
        return Err("the instance has no IAM role".to_string());
    }
    let body = request("GET", &format!("{base}{role}"), &auth).await?;
    parse_credentials(&body)
}

/// The JSON both endpoints answer with.
fn parse_credentials(body: &str) -> Result<AwsCredentials, String> {
    let members = json_strings(body)?;
    let get = |key: &str| {
        members
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let (Some(id), Some(secret)) = (get("AccessKeyId"), get("SecretAccessKey")) else {
        return Err("credentials response lacks AccessKeyId or SecretAccessKey".to_string());
    };
    Ok(AwsCredentials {
        access_key_id: id,
        secret_access_key: Secret::new(secret),
        session_token: get("Token").map(Secret::new),
        expires_at: get("Expiration").map(|e| parse_rfc3339(&e)).transpose()?,
    })
}

/// `2024-01-02T03:04:05Z` (fractions of a second allowed) as a time.
pub(super) fn parse_rfc3339(text: &str) -> Result<SystemTime, String> {
    let bad = || format!("credentials Expiration {text:?} is not an RFC 3339 UTC time");
    let t = text.strip_suffix('Z').ok_or_else(bad)?;
    let (date, time) = t.split_once('T').ok_or_else(bad)?;
    let num = |s: Option<&str>| s.and_then(|s| s.parse::<i64>().ok()).ok_or_else(bad);
    let mut d = date.split('-');
    let (y, m, day) = (num(d.next())?, num(d.next())?, num(d.next())?);
    let mut h = time.split(':');
    let (hh, mm) = (num(h.next())?, num(h.next())?);
    let ss = num(h.next().map(|s| s.split('.').next().unwrap_or(s)))?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return Err(bad());
    }
    let days = days_from_civil(y, m as u32, day as u32);
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    u64::try_from(secs)
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
        .map_err(|_| bad())
}

/// Howard Hinnant's civil-to-days algorithm.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests;
