use proptest::prelude::*;

use super::*;

fn pairs(p: &Properties) -> Vec<(&str, &str)> {
    p.iter().collect()
}

#[test]
fn separators_comments_and_whitespace_as_java() {
    let p = Properties::parse(
        "# comment\n\
         ! also a comment\n\
         \n\
         \t  \n\
         a=1\n\
         b = 2\n\
         c:3\n\
         d : 4\n\
         e 5\n\
         f   =  6  \n\
         g\n\
         h=\n\
         i==x\n\
         j: :y\n\
         \u{c}  k=indented\n\
         l=# not a comment\n",
    )
    .unwrap();
    assert_eq!(
        pairs(&p),
        [
            ("a", "1"),
            ("b", "2"),
            ("c", "3"),
            ("d", "4"),
            ("e", "5"),
            ("f", "6  "),
            ("g", ""),
            ("h", ""),
            ("i", "=x"),
            ("j", ":y"),
            ("k", "indented"),
            ("l", "# not a comment"),
        ]
    );
}

#[test]
fn line_ends_and_continuations_as_java() {
    let p = Properties::parse(
        "a=one\r\nb=two\rc=three\n\
         jaas=org.example.Module required \\\n    username=\"u\" \\\n\t# not a comment\n\
         even=x\\\\\n\
         next=after\n\
         # a comment does not continue \\\n\
         after.comment=1\n\
         last=end\\",
    )
    .unwrap();
    assert_eq!(
        pairs(&p),
        [
            ("a", "one"),
            ("b", "two"),
            ("c", "three"),
            (
                "jaas",
                "org.example.Module required username=\"u\" # not a comment"
            ),
            ("even", "x\\"),
            ("next", "after"),
            ("after.comment", "1"),
            ("last", "end"),
        ]
    );
}

#[test]
fn escapes_as_java() {
    let p = Properties::parse(
        "key\\ with\\ spaces=v\n\
         k\\=eq\\:colon=v2\n\
         tabs=a\\tb\\nc\\rd\\fe\\\\f\\qg\n\
         u=\\u00e9\\u20AC\\uD83D\\uDE00\n\
         \\#hash=\\!bang\n\
         lead=\\  two spaces\n",
    )
    .unwrap();
    assert_eq!(
        pairs(&p),
        [
            ("key with spaces", "v"),
            ("k=eq:colon", "v2"),
            ("tabs", "a\tb\nc\rd\u{c}e\\fqg"),
            ("u", "é€😀"),
            ("#hash", "!bang"),
            ("lead", "  two spaces"),
        ]
    );
}

#[test]
fn malformed_escapes_name_the_line() {
    for (text, why) in [
        ("a=1\nb=\\u12", "line 2: malformed \\uXXXX escape \\u12"),
        ("a=1\n\n# c\nb=\\u12G4", "line 4: malformed"),
        ("a=\\uD83Dx", "line 1: \\uD83D is not followed by its pair"),
        ("a=\\uD83D\\u0041", "is not a pair"),
        ("a=\\uDE00", "half of a pair"),
    ] {
        let err = Properties::parse(text).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        let message = err.to_string();
        assert!(message.contains(why), "{text:?}: {message}");
    }
}

#[test]
fn files_are_named_in_errors() {
    let dir = std::env::temp_dir().join(format!("kafkit-props-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.properties");
    std::fs::write(&good, "bootstrap.servers=localhost:9092\nlinger.ms=20\n").unwrap();
    let p = Properties::from_file(&good).unwrap();
    assert_eq!(p.get("linger.ms"), Some("20"));
    let bad = dir.join("bad.properties");
    std::fs::write(&bad, "a=1\nb=\\uZZZZ\n").unwrap();
    let message = Properties::from_file(&bad).unwrap_err().to_string();
    assert!(
        message.contains(&format!("{}:2: malformed", bad.display())),
        "{message}"
    );
    let missing = dir.join("missing.properties");
    let message = Properties::from_file(&missing).unwrap_err().to_string();
    assert!(
        message.contains(&format!(
            "cannot read properties file {}",
            missing.display()
        )),
        "{message}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn later_values_win_and_sources_layer() {
    let mut p = Properties::parse("linger.ms=5\nacks=1").unwrap();
    p.extend(Properties::parse("linger.ms=20").unwrap());
    p.set("acks", "all");
    assert_eq!(p.get("linger.ms"), Some("20"));
    assert_eq!(p.get("acks"), Some("all"));
    assert_eq!(p.get("missing"), None);
    assert_eq!(p.len(), 4);
    let owned: Vec<(String, String)> = p.clone().into_iter().collect();
    assert_eq!(owned[0], ("linger.ms".to_string(), "5".to_string()));
    let rebuilt: Properties = owned.into_iter().collect();
    assert_eq!(rebuilt, p);
    assert!(Properties::new().is_empty());
}

fn vars(list: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    list.iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect()
}

#[test]
fn environment_names_as_the_apache_kafka_image() {
    let p = from_vars(
        "KAFKA_",
        vars(&[
            ("KAFKA_LINGER_MS", "20"),
            ("KAFKA_BOOTSTRAP_SERVERS", "a:1"),
            ("KAFKA_SASL_LOGIN_CALLBACK__HANDLER", "x"),
            ("KAFKA_SOME___DASHED", "y"),
            ("KAFKA_HEAP_OPTS", "-Xmx1G"),
            ("KAFKA_LOG4J_OPTS", "-D"),
            ("KAFKA_", "empty key"),
            ("PATH", "/bin"),
            ("XKAFKA_LINGER_MS", "1"),
        ]),
    )
    .unwrap();
    assert_eq!(
        pairs(&p),
        [
            ("bootstrap.servers", "a:1"),
            ("linger.ms", "20"),
            ("sasl.login.callback_handler", "x"),
            ("some-dashed", "y"),
        ]
    );
    // Another prefix: the script variables are only skipped under KAFKA_.
    let p = from_vars(
        "APP_",
        vars(&[("APP_HEAP_OPTS", "1"), ("KAFKA_LINGER_MS", "2")]),
    )
    .unwrap();
    assert_eq!(pairs(&p), [("heap.opts", "1")]);
}

#[cfg(unix)]
#[test]
fn environment_values_that_are_not_unicode_are_named() {
    use std::os::unix::ffi::OsStringExt;
    let err = from_vars(
        "KAFKA_",
        [(
            OsString::from("KAFKA_CLIENT_ID"),
            OsString::from_vec(vec![0xff, 0xfe]),
        )],
    )
    .unwrap_err();
    assert!(err.to_string().contains("KAFKA_CLIENT_ID"), "{err}");
}

/// Java's `Properties.store` spelling of a key or value (`saveConvert`), with non-ASCII
/// characters as `\uXXXX` when `ascii` (as `store(OutputStream)` writes them).
fn escape(s: &str, is_key: bool, ascii: bool) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        match c {
            ' ' if is_key || i == 0 => out.push_str("\\ "),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{c}' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if ascii && !c.is_ascii() => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

proptest! {
    #[test]
    fn escaped_keys_and_values_round_trip(
        entries in prop::collection::vec((any::<String>(), any::<String>()), 0..8),
        ascii: bool,
        separator in prop::sample::select(vec!["=", ":", " ", " = ", "\t: "]),
    ) {
        let text: String = entries
            .iter()
            .map(|(k, v)| {
                // An empty key with a space for separator would be a blank line.
                let separator = if k.is_empty() { "=" } else { separator };
                format!("{}{separator}{}\n", escape(k, true, ascii), escape(v, false, ascii))
            })
            .collect();
        let parsed = Properties::parse(&text).unwrap();
        let expected: Properties = entries.into_iter().collect();
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn env_names_round_trip(key in "[a-z0-9]{1,5}([._-][a-z0-9]{1,5}){0,4}") {
        let name: String = key
            .chars()
            .map(|c| match c {
                '.' => "_".to_string(),
                '_' => "__".to_string(),
                '-' => "___".to_string(),
                c => c.to_ascii_uppercase().to_string(),
            })
            .collect();
        prop_assert_eq!(env_key(&name), key);
    }
}
