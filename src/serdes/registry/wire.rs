//! What the Schema Registry serdes (Avro, Protobuf) share: the wire format's five-byte header,
//! and the choice of the schema id each subject is written with, by Confluent's settings
//! (`auto.register.schemas`, `use.latest.version`, the subject name strategies).

use super::{RegisteredSchema, SchemaRegistryClient, SchemaType, SubjectNameStrategy};
use crate::error::{Error, Result};
use crate::serdes::RecordPart;
use crate::sync::lock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The wire format's first byte.
const MAGIC: u8 = 0;
/// The magic byte and the four-byte schema id.
pub(crate) const HEADER: usize = 5;

/// A record's bytes so far: the header naming schema `id`, with room for `rest` more bytes.
pub(crate) fn start_record(id: i32, rest: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER + rest);
    bytes.push(MAGIC);
    bytes.extend_from_slice(&id.to_be_bytes());
    bytes
}

/// The schema id and what follows the header of a record in the wire format.
pub(crate) fn split_header(bytes: &[u8]) -> Result<(i32, &[u8])> {
    match bytes {
        [MAGIC, a, b, c, d, rest @ ..] => Ok((i32::from_be_bytes([*a, *b, *c, *d]), rest)),
        [MAGIC, ..] => Err(Error::serialization(format!(
            "{} bytes are too few for the Schema Registry wire format's 5-byte header",
            bytes.len()
        ))),
        [magic, ..] => Err(Error::serialization(format!(
            "unknown magic byte {magic}: not the Schema Registry wire format"
        ))),
        [] => Err(Error::serialization(
            "0 bytes: not the Schema Registry wire format",
        )),
    }
}

/// The schema with id `id`, which must be of `schema_type` (a record of another format is
/// refused before its bytes are read). Cached by the client.
pub(crate) fn registered(
    client: &SchemaRegistryClient,
    id: i32,
    schema_type: SchemaType,
) -> Result<Arc<RegisteredSchema>> {
    let found = client.schema_blocking(id)?;
    if found.schema_type != schema_type {
        return Err(Error::serialization(format!(
            "schema id {id} is {}, not {schema_type}",
            found.schema_type
        )));
    }
    Ok(found)
}

/// The schema a serializer was given to write with (`G`: the serde's form of it).
pub(crate) struct Given<'a, G> {
    /// Its text, registered as it is.
    pub(crate) text: &'a str,
    /// The full name of the record or message written: what the record subject name
    /// strategies name the subject after.
    pub(crate) record_name: Option<&'a str>,
    /// The serde's form of it (parsed).
    pub(crate) schema: &'a G,
}

/// How a subject's schema was chosen.
pub(crate) enum Chosen<'a, G> {
    /// The given schema, registered (or looked up) under the subject.
    Given {
        /// Its id there.
        id: i32,
        /// The serde's form of it.
        schema: &'a G,
    },
    /// The subject's latest version (`use.latest.version=true`).
    Latest {
        /// Its id.
        id: i32,
        /// Its text.
        text: &'a str,
    },
}

/// What a serializer writes each subject with (`W`: the id and what the format needs of the
/// schema), resolved on the subject's first record and kept, so later records make no request.
pub(crate) struct Writers<W> {
    schema_type: SchemaType,
    /// How the serde's users give it a schema (`AvroSerde::with_schema`), for error messages.
    constructor: &'static str,
    by_subject: Mutex<HashMap<String, Arc<W>>>,
}

impl<W> Writers<W> {
    pub(crate) fn new(schema_type: SchemaType, constructor: &'static str) -> Self {
        Self {
            schema_type,
            constructor,
            by_subject: Mutex::new(HashMap::new()),
        }
    }

    /// The writer for records of `topic`: its subject is named by the client's strategy for
    /// `part`, its schema the given one (registered or looked up) or the subject's latest,
    /// turned into a `W` by `make` once per subject.
    pub(crate) fn get<G>(
        &self,
        client: &SchemaRegistryClient,
        part: RecordPart,
        topic: &str,
        given: Option<Given<'_, G>>,
        make: impl FnOnce(Chosen<'_, G>) -> Result<W>,
    ) -> Result<Arc<W>> {
        let config = client.config();
        let strategy = config.subject_name_strategy(part);
        if given.is_none() && strategy != SubjectNameStrategy::TopicName {
            return Err(Error::serialization(format!(
                "{strategy:?} names the subject after the schema: give the serde a schema \
                 ({})",
                self.constructor
            )));
        }
        let subject = strategy.subject(topic, part, given.as_ref().and_then(|g| g.record_name))?;
        if let Some(writer) = lock(&self.by_subject).get(&subject) {
            return Ok(writer.clone());
        }
        let writer = if config.use_latest_version() {
            let latest = client.latest_version_blocking(&subject)?;
            if latest.schema_type != self.schema_type {
                return Err(Error::serialization(format!(
                    "the latest schema of subject {subject:?} is {}, not {}",
                    latest.schema_type, self.schema_type
                )));
            }
            make(Chosen::Latest {
                id: latest.id,
                text: &latest.schema,
            })?
        } else {
            let given = given.ok_or_else(|| {
                Error::serialization(format!(
                    "a serde without a schema writes only with use.latest.version=true: give \
                     it one ({})",
                    self.constructor
                ))
            })?;
            let id = if config.auto_register_schemas() {
                client.register_blocking(&subject, given.text, self.schema_type)?
            } else {
                client.lookup_id_blocking(&subject, given.text, self.schema_type)?
            };
            make(Chosen::Given {
                id,
                schema: given.schema,
            })?
        };
        Ok(lock(&self.by_subject)
            .entry(subject)
            .or_insert_with(|| Arc::new(writer))
            .clone())
    }
}
