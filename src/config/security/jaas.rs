//! `sasl.jaas.config`: the Java login-module line, parsed so a Java user can paste theirs.
//!
//! The grammar is Java's: `ModuleClass flag key=value ... ;`, values optionally in double
//! quotes with backslash escapes. Exactly one login module is allowed, as in Kafka.

use super::super::secret::Secret;
use crate::error::{Error, Result};

/// The login modules kafkit understands, by Java class name.
pub(crate) const PLAIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
pub(crate) const SCRAM_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";
pub(crate) const OAUTHBEARER_MODULE: &str =
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule";
#[cfg(feature = "aws-msk-iam")]
pub(crate) const MSK_IAM_MODULE: &str = "software.amazon.msk.auth.iam.IAMLoginModule";

/// A parsed `sasl.jaas.config`: one login module and its options. Every option value is kept
/// as a [`Secret`], so printing the config never shows a password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JaasConfig {
    /// The login module's Java class name.
    pub login_module: String,
    /// The options, in order.
    pub options: Vec<(String, Secret)>,
}

impl JaasConfig {
    /// Parses a `sasl.jaas.config` value.
    ///
    /// ```
    /// let jaas = kafkit::JaasConfig::parse(
    ///     r#"org.apache.kafka.common.security.plain.PlainLoginModule required
    ///        username="alice" password="s3cret";"#,
    /// ).unwrap();
    /// assert_eq!(jaas.option("username"), Some("alice"));
    /// assert!(!format!("{jaas:?}").contains("s3cret"));
    /// ```
    pub fn parse(text: &str) -> Result<Self> {
        let mut tokens = Tokens { rest: text };
        let module = tokens.word()?.ok_or_else(|| bad("it is empty"))?;
        let flag = tokens
            .word()?
            .ok_or_else(|| bad("the control flag is missing"))?;
        if !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str()) {
            return Err(bad(&format!(
                "{flag:?} is not a control flag; write `{module} required ...;`"
            )));
        }
        let mut options = Vec::new();
        loop {
            tokens.skip_space();
            if tokens.eat(';') {
                break;
            }
            let key = tokens
                .word()?
                .ok_or_else(|| bad("it does not end with ';'"))?;
            tokens.skip_space();
            if !tokens.eat('=') {
                return Err(bad(&format!("option {key:?} has no '=value'")));
            }
            let value = tokens
                .value()?
                .ok_or_else(|| bad(&format!("option {key:?} has no value")))?;
            options.push((key, Secret::new(value)));
        }
        tokens.skip_space();
        if !tokens.rest.is_empty() {
            return Err(bad(
                "it holds more than one login module; Kafka takes exactly one",
            ));
        }
        Ok(Self {
            login_module: module,
            options,
        })
    }

    /// The value of option `key`, if set.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.expose())
    }

    /// Fails on the first option not in `known`: an option kafkit would ignore is refused.
    pub(crate) fn only_options(&self, known: &[&str], prefixes: &[&str]) -> Result<()> {
        for (key, _) in &self.options {
            if !known.contains(&key.as_str()) && !prefixes.iter().any(|p| key.starts_with(p)) {
                return Err(Error::config(format!(
                    "sasl.jaas.config: option {key:?} of {} is not one kafkit implements \
                     (it knows {})",
                    self.login_module,
                    known
                        .iter()
                        .copied()
                        .chain(prefixes.iter().map(|p| p.trim_end_matches('_')))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(())
    }
}

fn bad(why: &str) -> Error {
    Error::config(format!(
        "sasl.jaas.config is not valid: {why} (the form is `LoginModuleClass required \
         key=\"value\" ...;`)"
    ))
}

struct Tokens<'a> {
    rest: &'a str,
}

impl Tokens<'_> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn eat(&mut self, c: char) -> bool {
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// An unquoted word: a class name, a flag, a key.
    fn word(&mut self) -> Result<Option<String>> {
        self.skip_space();
        let end = self
            .rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == ';' || c == '"')
            .unwrap_or(self.rest.len());
        if end == 0 {
            return Ok(None);
        }
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest;
        Ok(Some(word.to_string()))
    }

    /// A value: a quoted string with backslash escapes, or a word.
    fn value(&mut self) -> Result<Option<String>> {
        self.skip_space();
        if !self.eat('"') {
            return self.word();
        }
        let mut value = String::new();
        let mut chars = self.rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &self.rest[i + 1..];
                    return Ok(Some(value));
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, 'r')) => value.push('\r'),
                    Some((_, other)) => value.push(other),
                    None => break,
                },
                other => value.push(other),
            }
        }
        Err(bad("a quoted value is not closed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_lines_parse() {
        let jaas = JaasConfig::parse(
            "org.apache.kafka.common.security.scram.ScramLoginModule required\n  \
             username=\"bob\"\n  password=\"p\\\"w;d=\" tokenauth=false ;",
        )
        .unwrap();
        assert_eq!(jaas.login_module, SCRAM_MODULE);
        assert_eq!(jaas.option("username"), Some("bob"));
        assert_eq!(jaas.option("password"), Some("p\"w;d="));
        assert_eq!(jaas.option("tokenauth"), Some("false"));
        assert_eq!(jaas.option("missing"), None);
        let debug = format!("{jaas:?}");
        assert!(
            !debug.contains("p\\\"w") && debug.contains("[redacted]"),
            "{debug}"
        );
        let bare =
            JaasConfig::parse("software.amazon.msk.auth.iam.IAMLoginModule required;").unwrap();
        assert!(bare.options.is_empty());
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        for (text, why) in [
            ("", "empty"),
            ("Module", "control flag"),
            ("Module always;", "not a control flag"),
            ("Module required username=\"a\"", "end with ';'"),
            ("Module required username;", "no '=value'"),
            ("Module required username=\"a;", "not closed"),
            ("A required; B required;", "more than one"),
        ] {
            let text_err = JaasConfig::parse(text).unwrap_err().to_string();
            assert!(text_err.contains(why), "{text:?}: {text_err}");
            assert!(text_err.contains("sasl.jaas.config"), "{text_err}");
        }
    }

    #[test]
    fn unknown_options_are_refused() {
        let jaas = JaasConfig::parse("M required username=a weird=1;").unwrap();
        assert!(jaas.only_options(&["username", "weird"], &[]).is_ok());
        let err = jaas.only_options(&["username"], &[]).unwrap_err();
        assert!(err.to_string().contains("\"weird\""), "{err}");
    }
}
