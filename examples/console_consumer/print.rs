//! How a record is printed: text fields as Kafka's console consumer prints them, or JSON.

use clap::ValueEnum;
use kafkit::ConsumerRecord;

#[derive(Clone, Copy, PartialEq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Default)]
pub struct Print {
    key: bool,
    timestamp: bool,
    partition: bool,
    offset: bool,
    headers: bool,
    separator: String,
    json: bool,
}

impl Print {
    pub fn new(properties: &[(String, String)], format: Format) -> Result<Print, String> {
        let mut print = Print {
            separator: "\t".into(),
            json: format == Format::Json,
            ..Print::default()
        };
        for (k, v) in properties {
            let on = v == "true";
            match k.as_str() {
                "print.key" => print.key = on,
                "print.timestamp" => print.timestamp = on,
                "print.partition" => print.partition = on,
                "print.offset" => print.offset = on,
                "print.headers" => print.headers = on,
                "key.separator" => print.separator = v.clone(),
                other => return Err(format!("unknown --property {other}")),
            }
        }
        Ok(print)
    }
}

pub fn format_record(r: &ConsumerRecord, p: &Print) -> String {
    let text =
        |b: &Option<bytes::Bytes>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
    if p.json {
        let headers: Vec<serde_json::Value> = r
            .headers
            .iter()
            .map(|h| serde_json::json!({"key": String::from_utf8_lossy(&h.key), "value": text(&h.value)}))
            .collect();
        return serde_json::json!({
            "topic": &*r.topic, "partition": r.partition, "offset": r.offset,
            "timestamp": r.timestamp, "key": text(&r.key), "value": text(&r.value),
            "headers": headers,
        })
        .to_string();
    }
    let mut fields = Vec::new();
    if p.timestamp {
        fields.push(format!("CreateTime:{}", r.timestamp));
    }
    if p.partition {
        fields.push(format!("Partition:{}", r.partition));
    }
    if p.offset {
        fields.push(format!("Offset:{}", r.offset));
    }
    if p.headers {
        let headers: Vec<String> = r
            .headers
            .iter()
            .map(|h| {
                format!(
                    "{}:{}",
                    String::from_utf8_lossy(&h.key),
                    text(&h.value).unwrap_or_else(|| "NULL".into())
                )
            })
            .collect();
        fields.push(if headers.is_empty() {
            "NO_HEADERS".into()
        } else {
            headers.join(",")
        });
    }
    if p.key {
        fields.push(text(&r.key).unwrap_or_else(|| "null".into()));
    }
    fields.push(text(&r.value).unwrap_or_else(|| "null".into()));
    fields.join(&p.separator)
}
