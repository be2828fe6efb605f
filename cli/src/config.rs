//! Client settings from the global options: a Java `.properties` file (`-F`), `-X KEY=VALUE`
//! and `-b`, in that order, the later winning. Each client takes them with its own
//! `from_properties`, so a key that client does not know is refused with its name.

use std::path::PathBuf;

/// The options every subcommand shares.
#[derive(clap::Args)]
#[command(next_help_heading = "Client settings (any subcommand)")]
pub struct Connection {
    /// Bootstrap brokers, HOST:PORT[,HOST:PORT...] (bootstrap.servers).
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        global = true,
        value_name = "HOST:PORT"
    )]
    pub bootstrap: Option<String>,
    /// A Java .properties file of client settings (security.protocol, sasl.jaas.config, ...).
    #[arg(short = 'F', long = "config-file", global = true, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// A client setting with Java's key, e.g. linger.ms=5 or security.protocol=SASL_SSL;
    /// over the file's, repeatable.
    #[arg(short = 'X', global = true, value_name = "KEY=VALUE", value_parser = key_value)]
    pub settings: Vec<(String, String)>,
}

impl Connection {
    /// The settings for a client: the file's, then `-X`'s, then `-b`. Without a bootstrap
    /// server among them, an error that says where to give one.
    pub fn properties(&self) -> Result<Vec<(String, String)>, String> {
        let mut properties = match &self.file {
            Some(path) => kafkit::Properties::from_file(path)
                .map_err(|e| e.to_string())?
                .into_iter()
                .collect(),
            None => Vec::new(),
        };
        properties.extend(self.settings.iter().cloned());
        if let Some(bootstrap) = &self.bootstrap {
            properties.push(("bootstrap.servers".into(), bootstrap.clone()));
        }
        let bootstrap = properties
            .iter()
            .rev()
            .find(|(k, _)| k == "bootstrap.servers");
        if bootstrap.is_none_or(|(_, v)| v.trim().is_empty()) {
            return Err("no bootstrap server: give -b HOST:PORT, or bootstrap.servers in the -F file or with -X".into());
        }
        Ok(properties)
    }
}

/// Parses `KEY=VALUE` (the value may hold more `=`).
pub fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("kafkit-cli-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_missing_file_names_itself() {
        let connection = Connection {
            bootstrap: Some("b:9092".into()),
            file: Some("/no/such/client.properties".into()),
            settings: Vec::new(),
        };
        let err = connection.properties().unwrap_err();
        assert!(err.contains("/no/such/client.properties"), "{err}");
    }

    #[test]
    fn later_sources_win_and_a_bootstrap_server_is_required() {
        let path = file(
            "order.properties",
            "bootstrap.servers=from-file:9092\nlinger.ms=1\n",
        );
        let mut connection = Connection {
            bootstrap: None,
            file: Some(path.clone()),
            settings: vec![("linger.ms".into(), "5".into())],
        };
        let properties = connection.properties().unwrap();
        assert_eq!(properties[1], ("linger.ms".into(), "1".into()));
        assert_eq!(properties[2], ("linger.ms".into(), "5".into()));
        connection.bootstrap = Some("from-flag:9092".into());
        let properties = connection.properties().unwrap();
        assert_eq!(
            properties.last().unwrap(),
            &("bootstrap.servers".into(), "from-flag:9092".into())
        );
        std::fs::remove_file(path).unwrap();
        let none = Connection {
            bootstrap: None,
            file: None,
            settings: vec![("bootstrap.servers".into(), " ".into())],
        };
        assert!(none.properties().unwrap_err().contains("-b HOST:PORT"));
    }

    #[test]
    fn settings_split_at_the_first_equals() {
        assert_eq!(key_value("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(key_value("a="), Ok(("a".into(), "".into())));
        assert!(key_value("a").is_err());
        assert!(key_value("=b").is_err());
    }
}
