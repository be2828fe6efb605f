//! How `consume` prints a record: its value (text), a JSON object, or a kcat-like format
//! string. Text and format strings write keys and values as their raw bytes; JSON as strings
//! (invalid UTF-8 replaced), `null` for a null key or value.

use kafkit::{ConsumerRecord, Header};

/// The fields of a record that get printed, borrowed from a `ConsumerRecord`.
pub struct Fields<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [Header],
}

impl<'a> From<&'a ConsumerRecord> for Fields<'a> {
    fn from(r: &'a ConsumerRecord) -> Self {
        Fields {
            topic: &r.topic,
            partition: r.partition,
            offset: r.offset,
            timestamp: r.timestamp,
            key: r.key.as_deref(),
            value: r.value.as_deref(),
            headers: &r.headers,
        }
    }
}

/// The `--format` choices.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Format {
    /// The value, one record a line.
    Text,
    /// One object a line: topic, partition, offset, timestamp, key, value, headers.
    Json,
}

/// How records are written out.
#[derive(Debug, PartialEq)]
pub enum Output {
    Text,
    Json,
    Template(Vec<Piece>),
}

/// A part of a format string.
#[derive(Debug, PartialEq)]
pub enum Piece {
    Literal(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Timestamp,
    Key,
    Value,
    Headers,
    KeyLen,
    ValueLen,
}

/// What `-f` says it takes, for its help and its error.
pub const TEMPLATE_HELP: &str = "%t topic, %p partition, %o offset, %T timestamp (ms), %k key, \
     %s value, %h headers (k=v,k2=v2), %K key length, %S value length, %% a %; \\n \\t \\r \\\\";

impl Output {
    /// `-f TEMPLATE` when given, else `--format`.
    pub fn new(format: Format, template: Option<&str>) -> Result<Output, String> {
        match (template, format) {
            (Some(t), _) => parse_template(t).map(Output::Template),
            (None, Format::Text) => Ok(Output::Text),
            (None, Format::Json) => Ok(Output::Json),
        }
    }

    /// Appends `record` to `out`.
    pub fn write(&self, record: &Fields, out: &mut Vec<u8>) {
        match self {
            Output::Text => {
                out.extend_from_slice(record.value.unwrap_or_default());
                out.push(b'\n');
            }
            Output::Json => {
                // Written field by field to keep the documented order (a serde_json map
                // sorts its keys).
                let string = |b: &[u8]| serde_json::Value::from(String::from_utf8_lossy(b));
                let bytes = |b: Option<&[u8]>| b.map_or(serde_json::Value::Null, string);
                let headers: Vec<String> = record
                    .headers
                    .iter()
                    .map(|h| {
                        format!(
                            "{{\"key\":{},\"value\":{}}}",
                            string(&h.key),
                            bytes(h.value.as_deref())
                        )
                    })
                    .collect();
                let line = format!(
                    "{{\"topic\":{},\"partition\":{},\"offset\":{},\"timestamp\":{},\"key\":{},\"value\":{},\"headers\":[{}]}}\n",
                    string(record.topic.as_bytes()),
                    record.partition,
                    record.offset,
                    record.timestamp,
                    bytes(record.key),
                    bytes(record.value),
                    headers.join(",")
                );
                out.extend_from_slice(line.as_bytes());
            }
            Output::Template(pieces) => {
                for piece in pieces {
                    write_piece(piece, record, out);
                }
            }
        }
    }
}

fn write_piece(piece: &Piece, record: &Fields, out: &mut Vec<u8>) {
    let len = |b: Option<&[u8]>| b.map_or(-1, |b| b.len() as i64).to_string();
    match piece {
        Piece::Literal(bytes) => out.extend_from_slice(bytes),
        Piece::Topic => out.extend_from_slice(record.topic.as_bytes()),
        Piece::Partition => out.extend_from_slice(record.partition.to_string().as_bytes()),
        Piece::Offset => out.extend_from_slice(record.offset.to_string().as_bytes()),
        Piece::Timestamp => out.extend_from_slice(record.timestamp.to_string().as_bytes()),
        Piece::Key => out.extend_from_slice(record.key.unwrap_or_default()),
        Piece::Value => out.extend_from_slice(record.value.unwrap_or_default()),
        Piece::KeyLen => out.extend_from_slice(len(record.key).as_bytes()),
        Piece::ValueLen => out.extend_from_slice(len(record.value).as_bytes()),
        Piece::Headers => {
            for (i, header) in record.headers.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&header.key);
                out.push(b'=');
                out.extend_from_slice(header.value.as_deref().unwrap_or_default());
            }
        }
    }
}

/// A format string's pieces; an unknown `%` directive is an error that lists the known ones.
fn parse_template(template: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = Vec::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        let field = match c {
            '%' => match chars.next() {
                Some('t') => Piece::Topic,
                Some('p') => Piece::Partition,
                Some('o') => Piece::Offset,
                Some('T') => Piece::Timestamp,
                Some('k') => Piece::Key,
                Some('s') => Piece::Value,
                Some('h') => Piece::Headers,
                Some('K') => Piece::KeyLen,
                Some('S') => Piece::ValueLen,
                Some('%') => {
                    literal.push(b'%');
                    continue;
                }
                other => {
                    let what = other.map_or("a lone % at the end".into(), |c| format!("%{c}"));
                    return Err(format!(
                        "format string {template:?}: {what} is not a field; {TEMPLATE_HELP}"
                    ));
                }
            },
            '\\' => {
                match chars.next() {
                    Some('n') => literal.push(b'\n'),
                    Some('t') => literal.push(b'\t'),
                    Some('r') => literal.push(b'\r'),
                    Some('\\') => literal.push(b'\\'),
                    Some(other) => {
                        literal.push(b'\\');
                        push_char(&mut literal, other);
                    }
                    None => literal.push(b'\\'),
                }
                continue;
            }
            c => {
                push_char(&mut literal, c);
                continue;
            }
        };
        if !literal.is_empty() {
            pieces.push(Piece::Literal(std::mem::take(&mut literal)));
        }
        pieces.push(field);
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

fn push_char(out: &mut Vec<u8>, c: char) {
    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Fields<'static> {
        static HEADERS: std::sync::LazyLock<[Header; 2]> =
            std::sync::LazyLock::new(|| [Header::new("trace", "abc"), Header::null("empty")]);
        Fields {
            topic: "orders",
            partition: 2,
            offset: 41,
            timestamp: 1_700_000_000_123,
            key: Some(b"k1"),
            value: Some(b"hello"),
            headers: &*HEADERS,
        }
    }

    fn written(output: &Output, record: &Fields) -> String {
        let mut out = Vec::new();
        output.write(record, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn format_strings_print_each_field_as_kcat_does() {
        let output = Output::new(
            Format::Text,
            Some("%t/%p@%o %T [%k=%s] {%h} %K %S 100%%\\n"),
        )
        .unwrap();
        assert_eq!(
            written(&output, &record()),
            "orders/2@41 1700000000123 [k1=hello] {trace=abc,empty=} 2 5 100%\n"
        );
        let mut null = record();
        (null.key, null.value, null.headers) = (None, None, &[]);
        assert_eq!(
            written(&output, &null),
            "orders/2@41 1700000000123 [=] {} -1 -1 100%\n"
        );
    }

    #[test]
    fn escapes_in_format_strings() {
        let output = Output::new(Format::Json, Some("\\t%s\\\\\\q\\")).unwrap();
        assert_eq!(written(&output, &record()), "\thello\\\\q\\");
    }

    #[test]
    fn unknown_directives_are_refused_with_the_list() {
        for bad in ["%x", "value %"] {
            let err = Output::new(Format::Text, Some(bad)).unwrap_err();
            assert!(err.contains("%t topic"), "{err}");
        }
    }

    #[test]
    fn text_prints_the_value_and_json_every_field() {
        assert_eq!(written(&Output::Text, &record()), "hello\n");
        let line = written(&Output::Json, &record());
        assert!(
            line.starts_with(r#"{"topic":"orders","partition":2,"offset":41,"#),
            "{line}"
        );
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "topic": "orders", "partition": 2, "offset": 41, "timestamp": 1_700_000_000_123_i64,
                "key": "k1", "value": "hello",
                "headers": [{"key": "trace", "value": "abc"}, {"key": "empty", "value": null}],
            })
        );
        let mut null = record();
        (null.key, null.value) = (None, Some(&[0xff, b'a'][..]));
        let json: serde_json::Value = serde_json::from_str(&written(&Output::Json, &null)).unwrap();
        assert_eq!(json["key"], serde_json::Value::Null);
        assert_eq!(json["value"], "\u{fffd}a");
    }
}
