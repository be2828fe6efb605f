//! Where properties come from besides code: Java `.properties` files and environment
//! variables, as an ordered list every config's `from_properties` takes.

use std::ffi::OsString;
use std::path::Path;

use crate::error::{Error, Result};

/// The prefix of [`Properties::from_env`], as the Apache Kafka Docker image reads its
/// settings.
pub const ENV_PREFIX: &str = "KAFKA_";

/// Variables under [`ENV_PREFIX`] that Kafka's scripts and Docker image read for themselves
/// (JVM and logging options, paths): not client settings, so `from_env` skips them.
const NOT_SETTINGS: &[&str] = &[
    "KAFKA_HOME",
    "KAFKA_VERSION",
    "KAFKA_HEAP_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_JMX_PORT",
    "KAFKA_JMX_HOSTNAME",
    "KAFKA_LOG4J_OPTS",
    "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL",
    "KAFKA_DEBUG",
];

/// Properties in order: keys and values as a Java client reads them, from a `.properties`
/// file, from environment variables, or from code. Every config's `from_properties` takes
/// them (and `from_properties_file`/`from_env` read them for you).
///
/// A key may appear more than once; applied in order, the later value wins. So sources are
/// layered by [`extend`](Self::extend)ing one with the next: a file, then the environment
/// over it, then fields set in code over the config built from both.
///
/// ```no_run
/// # fn main() -> kafkit::Result<()> {
/// # use std::time::Duration;
/// let mut properties = kafkit::Properties::from_file("producer.properties")?;
/// properties.extend(kafkit::Properties::from_env()?); // KAFKA_LINGER_MS=20 wins over the file
/// let mut config = kafkit::ProducerConfig::from_properties(&properties)?;
/// config.client.client_id = "billing".into(); // and code over both
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Properties {
    entries: Vec<(String, String)>,
}

impl Properties {
    /// No properties.
    pub fn new() -> Self {
        Self::default()
    }

    /// Java's `.properties` format, as `java.util.Properties.load` reads it: `key=value`,
    /// `key: value` or `key value` lines; `#` and `!` comment lines; whitespace before a key
    /// and around the separator ignored (after a value it is kept); a line ending in an odd
    /// number of `\` continued on the next one (its leading whitespace dropped); the escapes
    /// `\t`, `\n`, `\r`, `\f`, `\uXXXX` (UTF-16, surrogate pairs joined), and `\` before any
    /// other character for that character (`\=`, `\:`, `\ `, `\\`).
    ///
    /// A malformed `\uXXXX` escape is an [`Error::Config`] naming the line.
    ///
    /// ```
    /// let p = kafkit::Properties::parse(
    ///     "# producer\nbootstrap.servers = localhost:9092\nlinger.ms:20\nclient.id app\\\n    -1\n",
    /// )
    /// .unwrap();
    /// assert_eq!(p.get("linger.ms"), Some("20"));
    /// assert_eq!(p.get("client.id"), Some("app-1"));
    /// ```
    pub fn parse(text: &str) -> Result<Self> {
        parse(text, None)
    }

    /// A `.properties` file (see [`parse`](Self::parse)), read as UTF-8 (Java's
    /// `Properties.load(Reader)`; its ISO-8859-1 `load(InputStream)` differs only outside
    /// ASCII, which such files spell with `\uXXXX` anyway). Errors name the file, and the
    /// line for a malformed escape.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!(
                "cannot read properties file {}: {e}",
                path.display()
            ))
        })?;
        parse(&text, Some(path))
    }

    /// Environment variables named `KAFKA_<KEY>`, as the Apache Kafka Docker image maps them
    /// to settings (`KAFKA_BOOTSTRAP_SERVERS` is `bootstrap.servers`); see
    /// [`from_env_with_prefix`](Self::from_env_with_prefix). Variables that Kafka's scripts
    /// read for themselves (`KAFKA_HEAP_OPTS`, `KAFKA_OPTS`, `KAFKA_JMX_*`,
    /// `KAFKA_LOG4J_*`, `KAFKA_HOME`, ...) are skipped.
    pub fn from_env() -> Result<Self> {
        Self::from_env_with_prefix(ENV_PREFIX)
    }

    /// Environment variables named `prefix` + key, the key spelled as the Apache Kafka
    /// Docker image spells it: upper case, `.` as `_`, `_` as `__`, `-` as `___`. So with
    /// prefix `APP_KAFKA_`, `APP_KAFKA_SASL_MECHANISM` is `sasl.mechanism` and
    /// `APP_KAFKA_SASL_LOGIN_CALLBACK__HANDLER` would be `sasl.login.callback_handler`.
    /// (Confluent's images swap the two: `__` for `-`, `___` for `_`. No client key holds
    /// either, so this matters only for custom names.) Sorted by variable name; a value that
    /// is not Unicode is an [`Error::Config`] naming the variable.
    ///
    /// A prefix of its own per client keeps a producer's settings from reaching a consumer
    /// in the same process, which would refuse them as unknown.
    pub fn from_env_with_prefix(prefix: &str) -> Result<Self> {
        from_vars(prefix, std::env::vars_os())
    }

    /// Appends `key` = `value`; applied after the others, it wins over an earlier value of
    /// `key`.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.entries.push((key.into(), value.into()));
    }

    /// The value `key` ends with (its last), if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The properties in order, as `(key, value)`.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    /// How many entries there are (a key given twice counts twice).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for Properties {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, items: I) {
        for (k, v) in items {
            self.set(k, v);
        }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Properties {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(items: I) -> Self {
        let mut properties = Self::new();
        properties.extend(items);
        properties
    }
}

impl IntoIterator for Properties {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Properties {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The entries of [`Properties`], in order, as `(key, value)`.
#[derive(Clone, Debug)]
pub struct Iter<'a>(std::slice::Iter<'a, (String, String)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

/// The whitespace `Properties.load` skips: space, tab, form feed.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{c}')
}

fn parse(text: &str, file: Option<&Path>) -> Result<Properties> {
    let mut properties = Properties::new();
    // Java ends lines at \n, \r or \r\n.
    let mut lines = text
        .split('\n')
        .flat_map(|l| l.strip_suffix('\r').unwrap_or(l).split('\r'))
        .enumerate();
    while let Some((index, line)) = lines.next() {
        let line = line.trim_start_matches(is_space);
        if line.is_empty() || line.starts_with(['#', '!']) {
            continue;
        }
        let mut logical = line.to_string();
        while continues(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start_matches(is_space)),
                None => break,
            }
        }
        let (key, value) = entry(&logical).map_err(|why| {
            let place = match file {
                Some(path) => format!("{}:{}", path.display(), index + 1),
                None => format!("line {}", index + 1),
            };
            Error::config(format!("properties {place}: {why}"))
        })?;
        properties.set(key, value);
    }
    Ok(properties)
}

/// Whether a line ends in an odd number of backslashes: its last one escapes the line end.
fn continues(line: &str) -> bool {
    let backslashes = line.len() - line.trim_end_matches('\\').len();
    backslashes % 2 == 1
}

/// A logical line's key and value, escapes resolved; the error says what is malformed.
fn entry(line: &str) -> std::result::Result<(String, String), String> {
    let mut chars = line.chars().peekable();
    let mut key = String::new();
    let mut separated_by_space = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => unescape(&mut chars, &mut key)?,
            '=' | ':' => break,
            c if is_space(c) => {
                separated_by_space = true;
                break;
            }
            c => key.push(c),
        }
    }
    while chars.next_if(|c| is_space(*c)).is_some() {}
    // After a key ended by whitespace, one `=` or `:` may still follow as the separator.
    if separated_by_space && chars.next_if(|c| matches!(c, '=' | ':')).is_some() {
        while chars.next_if(|c| is_space(*c)).is_some() {}
    }
    let mut value = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => unescape(&mut chars, &mut value)?,
            c => value.push(c),
        }
    }
    Ok((key, value))
}

/// Resolves the escape after a `\` into `out`.
fn unescape(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    out: &mut String,
) -> std::result::Result<(), String> {
    match chars.next() {
        // A `\` ending the text: Java drops it.
        None => {}
        Some('t') => out.push('\t'),
        Some('n') => out.push('\n'),
        Some('r') => out.push('\r'),
        Some('f') => out.push('\u{c}'),
        Some('u') => {
            let unit = utf16_unit(chars)?;
            let c = match unit {
                0xD800..=0xDBFF => {
                    let low = match (chars.next(), chars.next()) {
                        (Some('\\'), Some('u')) => utf16_unit(chars)?,
                        _ => return Err(format!("\\u{unit:04X} is not followed by its pair")),
                    };
                    char::decode_utf16([unit, low])
                        .next()
                        .and_then(|c| c.ok())
                        .ok_or_else(|| format!("\\u{unit:04X}\\u{low:04X} is not a pair"))?
                }
                _ => char::from_u32(unit.into())
                    .ok_or_else(|| format!("\\u{unit:04X} is half of a pair, alone"))?,
            };
            out.push(c);
        }
        Some(c) => out.push(c),
    }
    Ok(())
}

/// The four hex digits of a `\uXXXX` escape.
fn utf16_unit(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> std::result::Result<u16, String> {
    let digits: String = chars.by_ref().take(4).collect();
    if digits.len() == 4 && digits.chars().all(|c| c.is_ascii_hexdigit()) {
        // Four hex digits always fit.
        Ok(u16::from_str_radix(&digits, 16).unwrap_or_default())
    } else {
        Err(format!(
            "malformed \\uXXXX escape \\u{digits}; write four hex digits"
        ))
    }
}

/// The settings among `vars` named `prefix` + key, sorted by variable name.
fn from_vars(
    prefix: &str,
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<Properties> {
    let mut found = Vec::new();
    for (name, value) in vars {
        let Some(name) = name.to_str() else { continue };
        let Some(key) = name.strip_prefix(prefix) else {
            continue;
        };
        if key.is_empty() || (prefix == ENV_PREFIX && NOT_SETTINGS.contains(&name)) {
            continue;
        }
        let value = value.into_string().map_err(|_| {
            Error::config(format!("environment variable {name} is not valid Unicode"))
        })?;
        found.push((name.to_string(), env_key(key), value));
    }
    found.sort();
    Ok(found.into_iter().map(|(_, k, v)| (k, v)).collect())
}

/// The Apache Kafka Docker image's spelling of a key in a variable name, undone: lower case,
/// `_` → `.`, then `...` → `-` and `..` → `_`.
fn env_key(name: &str) -> String {
    name.to_ascii_lowercase()
        .replace('_', ".")
        .replace("...", "-")
        .replace("..", "_")
}

#[cfg(test)]
mod tests;
