//! A Confluent Schema Registry client (feature `schema-registry`): registers schemas under
//! subjects and looks them up by id, subject and version over the registry's REST API
//! (Confluent's, or a compatible one such as Apicurio's `/apis/ccompat/v7`), with caches so
//! that a serializer's steady state makes no HTTP call.
//!
//! The client runs its HTTP requests on a thread of its own (a one-thread tokio runtime), so
//! it works from any runtime and from the synchronous [`Serializer`](crate::serdes::Serializer)
//! and [`Deserializer`](crate::serdes::Deserializer) traits: a serializer that meets a new
//! subject or schema id waits for the registry there, at most `http.read.timeout.ms`, as
//! Java's serializers do; after that, the answer is cached.

mod config;
#[cfg(any(feature = "avro", feature = "protobuf"))]
pub(crate) mod wire;

pub use config::{SchemaRegistryConfig, SubjectNameStrategy};

use crate::error::{Error, Result};
use crate::sync::lock;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The largest answer read from the registry: schemas are kilobytes, so anything near this
/// is not a schema registry speaking.
const MAX_ANSWER_BYTES: usize = 8 << 20;

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// The kind of a schema (the registry's `schemaType`; absent means Avro).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SchemaType {
    /// Apache Avro.
    Avro,
    /// Protocol Buffers.
    Protobuf,
    /// JSON Schema.
    Json,
}

impl SchemaType {
    /// The registry's spelling: `AVRO`, `PROTOBUF`, `JSON`.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Protobuf => "PROTOBUF",
            SchemaType::Json => "JSON",
        }
    }

    fn from_answer(answer: &serde_json::Value, context: &str) -> Result<Self> {
        match answer.get("schemaType").and_then(|t| t.as_str()) {
            None | Some("AVRO") => Ok(SchemaType::Avro),
            Some("PROTOBUF") => Ok(SchemaType::Protobuf),
            Some("JSON") => Ok(SchemaType::Json),
            Some(other) => Err(bad_answer(context, format!("unknown schemaType {other:?}"))),
        }
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A schema as the registry stores it under an id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredSchema {
    /// Its id: what the wire format's five-byte header carries.
    pub id: i32,
    /// Its kind.
    pub schema_type: SchemaType,
    /// Its text (Avro's JSON, a `.proto` file, a JSON Schema).
    pub schema: String,
}

/// One version of a subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectVersion {
    /// The subject.
    pub subject: String,
    /// The version number under the subject (1, 2, ...).
    pub version: i32,
    /// The schema's id.
    pub id: i32,
    /// Its kind.
    pub schema_type: SchemaType,
    /// Its text.
    pub schema: String,
}

/// A Schema Registry client: cheap to clone (clones share the connection pool, the caches
/// and the request thread, which ends with the last clone).
///
/// Cached: a schema by id (ids never change meaning), and the id of a schema registered or
/// looked up under a subject. Not cached: a subject's latest version and a compatibility
/// check, which change as schemas are registered (the Avro serializer keeps the schema it
/// chose per subject itself).
///
/// ```no_run
/// use kafkit::serdes::registry::{SchemaRegistryClient, SchemaRegistryConfig, SchemaType};
/// # async fn f() -> kafkit::Result<()> {
/// let client = SchemaRegistryClient::new(SchemaRegistryConfig::new("http://localhost:8081"))?;
/// let schema = r#"{"type":"record","name":"Reading","fields":[{"name":"celsius","type":"double"}]}"#;
/// let id = client.register("readings-value", schema, SchemaType::Avro).await?;
/// assert_eq!(client.schema(id).await?.schema_type, SchemaType::Avro);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SchemaRegistryClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: SchemaRegistryConfig,
    http: Arc<Http>,
    runtime: tokio::runtime::Handle,
    /// Dropped with the last clone: the request thread's runtime then ends.
    _stop: tokio::sync::oneshot::Sender<()>,
    by_id: Mutex<HashMap<i32, Arc<RegisteredSchema>>>,
    ids: Mutex<HashMap<(String, SchemaType, String), i32>>,
}

impl fmt::Debug for SchemaRegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaRegistryClient")
            .field("url", &self.inner.http.base)
            .finish_non_exhaustive()
    }
}

/// What every request needs, shared with the request thread.
struct Http {
    client: reqwest::Client,
    /// The URL without credentials or a trailing `/`.
    base: String,
    auth: Option<(String, String)>,
}

impl SchemaRegistryClient {
    /// A client for the registry `config` names, after validating it. Connects lazily, on
    /// the first request.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid config; [`Error::SchemaRegistry`] if the request
    /// thread cannot be started.
    pub fn new(config: SchemaRegistryConfig) -> Result<Self> {
        config.validate()?;
        let mut url = reqwest::Url::parse(config.url())
            .map_err(|e| Error::config(format!("schema.registry.url: {e}")))?;
        let mut auth = config
            .user_info()
            .map(|(user, password)| (user.to_string(), password.to_string()));
        if !url.username().is_empty() || url.password().is_some() {
            auth = Some((
                percent_decode(url.username()),
                percent_decode(url.password().unwrap_or("")),
            ));
            // Infallible for http(s) URLs, which validate() has checked it is.
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        let base = url.as_str().trim_end_matches('/').to_string();
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout())
            .timeout(config.request_timeout())
            .build()
            .map_err(|e| Error::config(format!("schema registry HTTP client: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| thread_error(format!("cannot build its runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("kafkit-schema-registry".into())
            .spawn(move || {
                // Ends when the last client clone drops `stop`; the runtime is dropped here,
                // outside any async context.
                let _ = runtime.block_on(stopped);
            })
            .map_err(|e| thread_error(format!("cannot start its thread: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                http: Arc::new(Http { client, base, auth }),
                runtime: handle,
                _stop: stop,
                by_id: Mutex::new(HashMap::new()),
                ids: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The client's settings.
    pub fn config(&self) -> &SchemaRegistryConfig {
        &self.inner.config
    }

    /// Registers `schema` under `subject` (a new version if it is new there) and returns its
    /// id; the registry returns the existing id for a schema it has. Cached: registering the
    /// same schema under the same subject again makes no request.
    pub async fn register(
        &self,
        subject: &str,
        schema: &str,
        schema_type: SchemaType,
    ) -> Result<i32> {
        if let Some(id) = self.cached_id(subject, schema, schema_type) {
            return Ok(id);
        }
        let id = self
            .run(self.register_request(subject, schema, schema_type))
            .await?;
        Ok(self.remember_id(subject, schema, schema_type, id))
    }

    /// The version of `subject` that holds `schema`, without registering it (for a serializer
    /// with `auto.register.schemas=false`). Its id is cached as [`register`](Self::register)'s.
    pub async fn lookup(
        &self,
        subject: &str,
        schema: &str,
        schema_type: SchemaType,
    ) -> Result<SubjectVersion> {
        let found = self
            .run(self.lookup_request(subject, schema, schema_type))
            .await?;
        self.remember_id(subject, schema, schema_type, found.id);
        Ok(found)
    }

    /// The schema with id `id`. Cached: ids never change meaning.
    pub async fn schema(&self, id: i32) -> Result<Arc<RegisteredSchema>> {
        if let Some(found) = lock(&self.inner.by_id).get(&id) {
            return Ok(found.clone());
        }
        let found = self.run(self.schema_request(id)).await?;
        Ok(self.remember_schema(found))
    }

    /// The latest version of `subject`. Not cached.
    pub async fn latest_version(&self, subject: &str) -> Result<SubjectVersion> {
        self.run(self.version_request(subject, "latest".to_string()))
            .await
    }

    /// Version `version` of `subject`. Not cached.
    pub async fn version(&self, subject: &str, version: i32) -> Result<SubjectVersion> {
        self.run(self.version_request(subject, version.to_string()))
            .await
    }

    /// Whether `schema` may be registered under `subject` by the subject's compatibility
    /// rule (checked against its latest version). Not cached.
    pub async fn is_compatible(
        &self,
        subject: &str,
        schema: &str,
        schema_type: SchemaType,
    ) -> Result<bool> {
        let context = format!("checking compatibility with subject {subject:?}");
        let request = self.inner.http.clone().call(
            reqwest::Method::POST,
            format!(
                "/compatibility/subjects/{}/versions/latest",
                encode(subject)
            ),
            Some(schema_body(schema, schema_type)),
            context.clone(),
        );
        let answer = self.run(request).await?;
        answer
            .get("is_compatible")
            .and_then(|v| v.as_bool())
            .ok_or_else(|| bad_answer(&context, "no is_compatible"))
    }

    /// [`register`](Self::register), waiting on the calling thread: for a synchronous
    /// [`Serializer`](crate::serdes::Serializer) of a format of your own. In an async task it
    /// holds up the task's thread until the registry answers (at most
    /// `http.read.timeout.ms`), as a cache miss of kafkit's own serializers does.
    pub fn register_blocking(
        &self,
        subject: &str,
        schema: &str,
        schema_type: SchemaType,
    ) -> Result<i32> {
        if let Some(id) = self.cached_id(subject, schema, schema_type) {
            return Ok(id);
        }
        let id = self.run_blocking(self.register_request(subject, schema, schema_type))?;
        Ok(self.remember_id(subject, schema, schema_type, id))
    }

    /// The id [`lookup`](Self::lookup) finds, waiting on the calling thread (see
    /// [`register_blocking`](Self::register_blocking)); cached.
    pub fn lookup_id_blocking(
        &self,
        subject: &str,
        schema: &str,
        schema_type: SchemaType,
    ) -> Result<i32> {
        if let Some(id) = self.cached_id(subject, schema, schema_type) {
            return Ok(id);
        }
        let found = self.run_blocking(self.lookup_request(subject, schema, schema_type))?;
        Ok(self.remember_id(subject, schema, schema_type, found.id))
    }

    /// [`schema`](Self::schema), waiting on the calling thread (see
    /// [`register_blocking`](Self::register_blocking)).
    pub fn schema_blocking(&self, id: i32) -> Result<Arc<RegisteredSchema>> {
        if let Some(found) = lock(&self.inner.by_id).get(&id) {
            return Ok(found.clone());
        }
        let found = self.run_blocking(self.schema_request(id))?;
        Ok(self.remember_schema(found))
    }

    /// [`latest_version`](Self::latest_version), waiting on the calling thread (see
    /// [`register_blocking`](Self::register_blocking)).
    pub fn latest_version_blocking(&self, subject: &str) -> Result<SubjectVersion> {
        self.run_blocking(self.version_request(subject, "latest".to_string()))
    }

    fn cached_id(&self, subject: &str, schema: &str, schema_type: SchemaType) -> Option<i32> {
        lock(&self.inner.ids)
            .get(&(subject.to_string(), schema_type, schema.to_string()))
            .copied()
    }

    fn remember_id(&self, subject: &str, schema: &str, schema_type: SchemaType, id: i32) -> i32 {
        lock(&self.inner.ids).insert((subject.to_string(), schema_type, schema.to_string()), id);
        id
    }

    fn remember_schema(&self, found: RegisteredSchema) -> Arc<RegisteredSchema> {
        lock(&self.inner.by_id)
            .entry(found.id)
            .or_insert_with(|| Arc::new(found))
            .clone()
    }

    fn register_request(
        &self,
        subject: &str,
        schema: &str,
        schema_type: SchemaType,
    ) -> impl Future<Output = Result<i32>> + Send + 'static {
        let context = format!("registering a schema under subject {subject:?}");
        let request = self.inner.http.clone().call(
            reqwest::Method::POST,
            format!("/subjects/{}/versions", encode(subject)),
            Some(schema_body(schema, schema_type)),
            context.clone(),
        );
        async move { id_field(&request.await?, "id", &context) }
    }

    fn lookup_request(
        &self,
        subject: &str,
        schema: &str,
        schema_type: SchemaType,
    ) -> impl Future<Output = Result<SubjectVersion>> + Send + 'static {
        let context = format!("looking up a schema under subject {subject:?}");
        let request = self.inner.http.clone().call(
            reqwest::Method::POST,
            format!("/subjects/{}", encode(subject)),
            Some(schema_body(schema, schema_type)),
            context.clone(),
        );
        let subject = subject.to_string();
        async move { subject_version(&request.await?, subject, &context) }
    }

    fn schema_request(
        &self,
        id: i32,
    ) -> impl Future<Output = Result<RegisteredSchema>> + Send + 'static {
        let context = format!("looking up schema id {id}");
        let request = self.inner.http.clone().call(
            reqwest::Method::GET,
            format!("/schemas/ids/{id}"),
            None,
            context.clone(),
        );
        async move {
            let answer = request.await?;
            Ok(RegisteredSchema {
                id,
                schema_type: SchemaType::from_answer(&answer, &context)?,
                schema: text_field(&answer, "schema", &context)?,
            })
        }
    }

    fn version_request(
        &self,
        subject: &str,
        version: String,
    ) -> impl Future<Output = Result<SubjectVersion>> + Send + 'static {
        let context = format!("reading version {version} of subject {subject:?}");
        let request = self.inner.http.clone().call(
            reqwest::Method::GET,
            format!("/subjects/{}/versions/{version}", encode(subject)),
            None,
            context.clone(),
        );
        let subject = subject.to_string();
        async move { subject_version(&request.await?, subject, &context) }
    }

    /// Runs a request on the client's thread, awaited from any runtime.
    async fn run<T: Send + 'static>(
        &self,
        request: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        self.inner
            .runtime
            .spawn(request)
            .await
            .map_err(|e| thread_error(format!("its request task ended: {e}")))?
    }

    /// Runs a request on the client's thread and waits for it here. The request's own
    /// timeout bounds the wait; the margin covers only the hand-over.
    fn run_blocking<T: Send + 'static>(
        &self,
        request: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.inner.runtime.spawn(async move {
            let _ = tx.send(request.await);
        });
        let bound = self.inner.config.request_timeout() + Duration::from_secs(5);
        rx.recv_timeout(bound)
            .map_err(|e| thread_error(format!("no answer from its request thread: {e}")))?
    }
}

impl Http {
    /// One request to the registry, its JSON answer, or the error it stands for.
    async fn call(
        self: Arc<Self>,
        method: reqwest::Method,
        path: String,
        body: Option<serde_json::Value>,
        context: String,
    ) -> Result<serde_json::Value> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::ACCEPT, CONTENT_TYPE);
        if let Some((user, password)) = &self.auth {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .body(body.to_string());
        }
        let unreachable = |e: reqwest::Error| Error::SchemaRegistry {
            context: context.clone(),
            status: None,
            error_code: None,
            // Without the URL: it may be long, and the context says what was asked.
            message: e.without_url().to_string(),
        };
        let mut response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let mut text = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if text.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(Error::SchemaRegistry {
                    context,
                    status: Some(status.as_u16()),
                    error_code: None,
                    message: format!("the answer exceeds {MAX_ANSWER_BYTES} bytes"),
                });
            }
            text.extend_from_slice(&chunk);
        }
        let answer = serde_json::from_slice::<serde_json::Value>(&text);
        if status.is_success() {
            return answer.map_err(|e| bad_answer(&context, format!("not JSON: {e}")));
        }
        let answer = answer.unwrap_or_default();
        let message = answer
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&text[..text.len().min(512)]).into_owned());
        Err(Error::SchemaRegistry {
            context,
            status: Some(status.as_u16()),
            error_code: answer.get("error_code").and_then(|c| c.as_i64()),
            message,
        })
    }
}

fn schema_body(schema: &str, schema_type: SchemaType) -> serde_json::Value {
    match schema_type {
        // Older registries know no schemaType; Avro is what its absence means.
        SchemaType::Avro => serde_json::json!({ "schema": schema }),
        other => serde_json::json!({ "schema": schema, "schemaType": other.as_str() }),
    }
}

fn subject_version(
    answer: &serde_json::Value,
    subject: String,
    context: &str,
) -> Result<SubjectVersion> {
    Ok(SubjectVersion {
        subject,
        version: id_field(answer, "version", context)?,
        id: id_field(answer, "id", context)?,
        schema_type: SchemaType::from_answer(answer, context)?,
        schema: text_field(answer, "schema", context)?,
    })
}

fn id_field(answer: &serde_json::Value, field: &str, context: &str) -> Result<i32> {
    answer
        .get(field)
        .and_then(|v| v.as_i64())
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| bad_answer(context, format!("no 32-bit {field} in {answer}")))
}

fn text_field(answer: &serde_json::Value, field: &str, context: &str) -> Result<String> {
    answer
        .get(field)
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| bad_answer(context, format!("no {field} text in the answer")))
}

fn bad_answer(context: &str, what: impl Into<String>) -> Error {
    Error::SchemaRegistry {
        context: context.to_string(),
        status: Some(200),
        error_code: None,
        message: format!("unexpected answer: {}", what.into()),
    }
}

fn thread_error(message: String) -> Error {
    Error::SchemaRegistry {
        context: "in the client's request thread".into(),
        status: None,
        error_code: None,
        message,
    }
}

/// A subject as one path segment: every byte but RFC 3986's unreserved ones escaped.
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The text of a URL's percent-encoded user or password.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
pub(crate) mod fake {
    //! A fake registry for unit tests: canned answers by request line, every request counted.

    use super::{SchemaRegistryClient, SchemaRegistryConfig};
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// A registry on a free port answering `answer(method_and_path, body)` as (status, JSON).
    pub(crate) struct FakeRegistry {
        pub(crate) url: String,
        pub(crate) requests: Arc<AtomicUsize>,
        pub(crate) seen: Arc<Mutex<Vec<String>>>,
    }

    impl FakeRegistry {
        pub(crate) fn start(
            answer: impl Fn(&str, &str) -> (u16, String) + Send + Sync + 'static,
        ) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let requests = Arc::new(AtomicUsize::new(0));
            let seen = Arc::new(Mutex::new(Vec::new()));
            let answer = Arc::new(answer);
            let (count, log) = (requests.clone(), seen.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { return };
                    let (answer, count, log) = (answer.clone(), count.clone(), log.clone());
                    std::thread::spawn(move || {
                        let mut reader = BufReader::new(stream.try_clone().unwrap());
                        let mut stream = stream;
                        loop {
                            let mut line = String::new();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            let mut length = 0;
                            let mut headers = Vec::new();
                            loop {
                                let mut header = String::new();
                                reader.read_line(&mut header).unwrap();
                                if header.trim().is_empty() {
                                    break;
                                }
                                let lower = header.to_ascii_lowercase();
                                if let Some(v) = lower.strip_prefix("content-length:") {
                                    length = v.trim().parse().unwrap();
                                }
                                headers.push(header.trim().to_string());
                            }
                            let mut body = vec![0; length];
                            reader.read_exact(&mut body).unwrap();
                            let request = line
                                .split_whitespace()
                                .take(2)
                                .collect::<Vec<_>>()
                                .join(" ");
                            count.fetch_add(1, Ordering::SeqCst);
                            log.lock()
                                .unwrap()
                                .push(format!("{request} {}", headers.join("|")));
                            let (status, json) = answer(&request, &String::from_utf8_lossy(&body));
                            let _ = write!(
                                stream,
                                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
                                json.len()
                            );
                        }
                    });
                }
            });
            FakeRegistry {
                url,
                requests,
                seen,
            }
        }

        pub(crate) fn requests(&self) -> usize {
            self.requests.load(Ordering::SeqCst)
        }

        /// A registry that registers every (subject, schema) under ids from 1 (one id per
        /// schema text, as a real registry gives) and serves them by id, with the
        /// `schemaType` they were registered with.
        pub(crate) fn registering() -> Self {
            let next = AtomicI32::new(1);
            let schemas: Mutex<HashMap<String, (i32, serde_json::Value)>> =
                Mutex::new(HashMap::new());
            Self::start(move |request, body| {
                let body: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
                if let Some(subject) = request
                    .strip_prefix("POST /subjects/")
                    .and_then(|rest| rest.strip_suffix("/versions"))
                {
                    let schema = body["schema"].as_str().unwrap().to_string();
                    let mut schemas = schemas.lock().unwrap();
                    let (id, _) = *schemas.entry(schema).or_insert_with(|| {
                        (
                            next.fetch_add(1, Ordering::SeqCst),
                            body["schemaType"].clone(),
                        )
                    });
                    return (200, format!(r#"{{"id":{id},"subject":"{subject}"}}"#));
                }
                if let Some(id) = request.strip_prefix("GET /schemas/ids/") {
                    let schemas = schemas.lock().unwrap();
                    let found = schemas.iter().find(|(_, (i, _))| i.to_string() == id);
                    if let Some((schema, (_, schema_type))) = found {
                        let mut answer = serde_json::json!({ "schema": schema });
                        if !schema_type.is_null() {
                            answer["schemaType"] = schema_type.clone();
                        }
                        return (200, answer.to_string());
                    }
                }
                (
                    404,
                    r#"{"error_code":40403,"message":"Schema not found"}"#.into(),
                )
            })
        }
    }

    impl FakeRegistry {
        /// Each request's method and path, in order.
        pub(crate) fn request_lines(&self) -> Vec<String> {
            let seen = self.seen.lock().unwrap();
            seen.iter()
                .map(|r| r.split(' ').take(2).collect::<Vec<_>>().join(" "))
                .collect()
        }

        /// Asserts that no schema was registered (looked up or fetched only).
        pub(crate) fn assert_nothing_registered(&self) {
            let lines = self.request_lines();
            assert!(
                lines.iter().all(|r| !r.ends_with("/versions")),
                "nothing registered: {lines:?}"
            );
        }
    }

    /// Clients that name subjects by each strategy: keys by RecordNameStrategy, values by
    /// TopicRecordNameStrategy, and the defaults (TopicNameStrategy).
    pub(crate) fn strategy_clients(url: &str) -> [SchemaRegistryClient; 3] {
        [
            client(url, &[("key.subject.name.strategy", "RecordNameStrategy")]),
            client(
                url,
                &[("value.subject.name.strategy", "TopicRecordNameStrategy")],
            ),
            client(url, &[]),
        ]
    }

    /// The registrations of a record named `name` on topic `orders` by a key serde with
    /// [`strategy_clients`]' first client, a value serde with its second and a key serde
    /// with its third, in that order.
    pub(crate) fn strategy_registrations(name: &str) -> [String; 3] {
        [
            format!("POST /subjects/{name}/versions"),
            format!("POST /subjects/orders-{name}/versions"),
            "POST /subjects/orders-key/versions".to_string(),
        ]
    }

    /// Asserts that `err` is the registry's answer for an unknown schema id.
    pub(crate) fn assert_schema_not_found(err: &crate::error::Error) {
        assert!(
            matches!(
                err,
                crate::error::Error::SchemaRegistry {
                    status: Some(404),
                    error_code: Some(40403),
                    ..
                }
            ),
            "{err:?}"
        );
    }

    /// A client of the registry at `url` with the settings `extra` besides its URL.
    pub(crate) fn client(url: &str, extra: &[(&str, &str)]) -> SchemaRegistryClient {
        let mut properties = vec![("schema.registry.url", url)];
        properties.extend_from_slice(extra);
        SchemaRegistryClient::new(SchemaRegistryConfig::from_properties(properties).unwrap())
            .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{client, FakeRegistry};
    use super::*;
    use crate::error::RetryAction;

    const SCHEMA: &str = r#"{"type":"record","name":"R","fields":[]}"#;

    fn registry() -> FakeRegistry {
        FakeRegistry::start(|request, body| {
            match request {
            "POST /subjects/t-value/versions" => {
                assert!(body.contains("\"schema\""), "{body}");
                (200, r#"{"id":7}"#.into())
            }
            "GET /schemas/ids/7" => (200, serde_json::json!({ "schema": SCHEMA }).to_string()),
            "GET /subjects/a%2Fb/versions/latest" => (
                200,
                serde_json::json!({"subject":"a/b","version":3,"id":9,"schemaType":"PROTOBUF","schema":"syntax"}).to_string(),
            ),
            "POST /compatibility/subjects/t-value/versions/latest" => {
                (200, r#"{"is_compatible":false}"#.into())
            }
            _ => (404, r#"{"error_code":40403,"message":"Schema not found"}"#.into()),
        }
        })
    }

    #[tokio::test]
    async fn answers_are_parsed_and_ids_cached() {
        let fake = registry();
        let client = client(&fake.url, &[("basic.auth.user.info", "me:pw")]);
        assert_eq!(
            client
                .register("t-value", SCHEMA, SchemaType::Avro)
                .await
                .unwrap(),
            7
        );
        assert_eq!(
            client
                .register("t-value", SCHEMA, SchemaType::Avro)
                .await
                .unwrap(),
            7
        );
        assert_eq!(
            client
                .register_blocking("t-value", SCHEMA, SchemaType::Avro)
                .unwrap(),
            7
        );
        assert_eq!(
            fake.requests(),
            1,
            "later registrations came from the cache"
        );
        let schema = client.schema(7).await.unwrap();
        assert_eq!(
            (schema.schema.as_str(), schema.schema_type),
            (SCHEMA, SchemaType::Avro)
        );
        client.schema(7).await.unwrap();
        assert_eq!(client.schema_blocking(7).unwrap().id, 7);
        assert_eq!(fake.requests(), 2, "a schema by id is fetched once");
        let latest = client.latest_version("a/b").await.unwrap();
        assert_eq!(
            (latest.version, latest.id, latest.schema_type),
            (3, 9, SchemaType::Protobuf)
        );
        assert_eq!(client.latest_version_blocking("a/b").unwrap(), latest);
        assert!(!client
            .is_compatible("t-value", SCHEMA, SchemaType::Avro)
            .await
            .unwrap());
        // Basic auth on every request: base64("me:pw").
        let seen = fake.seen.lock().unwrap().clone();
        assert!(
            seen.iter()
                .all(|r| r.contains("authorization: Basic bWU6cHc=")),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn refusals_and_silence_are_typed_errors() {
        let fake = registry();
        let plain = client(&fake.url, &[]);
        let err = plain.schema(8).await.unwrap_err();
        match &err {
            Error::SchemaRegistry {
                status: Some(404),
                error_code: Some(40403),
                message,
                ..
            } => {
                assert_eq!(message, "Schema not found")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.retry_action(), RetryAction::NoRetry);
        assert_eq!(fake.requests(), 1);
        // Credentials in the URL, percent-encoded.
        let in_url = client(
            &fake.url.replace("http://", "http://a%40b:p%3Aw@"),
            &[("basic.auth.credentials.source", "URL")],
        );
        in_url.schema(7).await.unwrap();
        let seen = fake.seen.lock().unwrap().clone();
        // base64("a@b:p:w")
        assert!(
            seen[1].contains("authorization: Basic YUBiOnA6dw=="),
            "{seen:?}"
        );

        // A registry that accepts the connection and never answers: the request timeout.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", silent.local_addr().unwrap());
        let silent_client = client(&url, &[("http.read.timeout.ms", "300")]);
        let started = std::time::Instant::now();
        let err = silent_client.schema_blocking(1).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(
            matches!(err, Error::SchemaRegistry { status: None, .. }),
            "{err:?}"
        );
        assert_eq!(err.retry_action(), RetryAction::Retry);
        drop(silent);
    }

    #[test]
    fn subjects_are_escaped_as_one_path_segment() {
        assert_eq!(encode("orders-value"), "orders-value");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
        assert_eq!(percent_decode("a%40b%zz%"), "a@b%zz%");
    }
}
