//! Client settings from the global options: a Java `.properties` file (`-F`), `-X KEY=VALUE`
//! and `-b`, in that order, the later winning. Each client takes them with its own
//! `from_properties`, so a key that client does not know is refused with its name.

use std::path::{Path, PathBuf};

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
            Some(path) => read_properties(path)?,
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

/// A Java `.properties` file's entries, in order, as `java.util.Properties.load` reads them:
/// `#`/`!` comment lines; `key=value`, `key: value` or `key value`; a line ending in an odd
/// number of `\` continued on the next (as a pasted `sasl.jaas.config` often is); the escapes
/// `\t \n \r \f \uXXXX`, and `\` before any other character standing for that character.
pub fn read_properties(path: &Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut entries = Vec::new();
    let mut lines = text.lines();
    while let Some(first) = lines.next() {
        let mut line = first.trim_start().to_string();
        if line.is_empty() || line.starts_with(['#', '!']) {
            continue;
        }
        while (line.len() - line.trim_end_matches('\\').len()) % 2 == 1 {
            line.pop();
            match lines.next() {
                Some(next) => line.push_str(next.trim_start()),
                None => break,
            }
        }
        let mut chars = line.chars().peekable();
        let mut key = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => unescape(&mut key, &mut chars),
                '=' | ':' => break,
                c if c.is_whitespace() => {
                    while chars.next_if(|c| c.is_whitespace()).is_some() {}
                    chars.next_if(|&c| c == '=' || c == ':');
                    break;
                }
                c => key.push(c),
            }
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => unescape(&mut value, &mut chars),
                c => value.push(c),
            }
        }
        entries.push((key, value));
    }
    Ok(entries)
}

/// The character after a `\`, pushed as what it stands for.
fn unescape(out: &mut String, chars: &mut std::iter::Peekable<std::str::Chars>) {
    match chars.next() {
        Some('t') => out.push('\t'),
        Some('n') => out.push('\n'),
        Some('r') => out.push('\r'),
        Some('f') => out.push('\u{c}'),
        Some('u') => {
            let hex: String = (0..4).filter_map(|_| chars.next()).collect();
            match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                Some(c) if hex.len() == 4 => out.push(c),
                // Java throws on a malformed \u; keeping the text makes the value's own
                // check name the key instead.
                _ => {
                    out.push_str("\\u");
                    out.push_str(&hex);
                }
            }
        }
        Some(c) => out.push(c),
        None => {}
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
    fn properties_files_read_as_java_reads_them() {
        let path = file(
            "java.properties",
            "# a comment\n! another\n\n  bootstrap.servers = b1:9092,b2:9092\n\
             security.protocol:SASL_SSL\nsasl.mechanism SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n\
             \x20   username=\"alice\" \\\n    password=\"a\\\\b\";\n\
             tab\\tkey=x\\u0041y\nkey\\=with\\ equals=v\nempty\n",
        );
        let entries = read_properties(&path).unwrap();
        std::fs::remove_file(path).unwrap();
        let pairs: Vec<(&str, &str)> = entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("bootstrap.servers", "b1:9092,b2:9092"),
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                (
                    "sasl.jaas.config",
                    "org.apache.kafka.common.security.scram.ScramLoginModule required \
                     username=\"alice\" password=\"a\\b\";"
                ),
                ("tab\tkey", "xAy"),
                ("key=with equals", "v"),
                ("empty", ""),
            ]
        );
    }

    #[test]
    fn a_missing_file_names_itself() {
        let err = read_properties(Path::new("/no/such/client.properties")).unwrap_err();
        assert!(err.starts_with("/no/such/client.properties: "), "{err}");
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
