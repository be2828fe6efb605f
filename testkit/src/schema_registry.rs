//! A real Schema Registry for tests: Apicurio Registry, which serves the Confluent Schema
//! Registry API at `/apis/ccompat/v7`, from Maven Central's jars, without Docker.
//!
//! Apicurio publishes its server as a Quarkus application library
//! (`io.apicurio:apicurio-registry-app`), not as a runnable jar, so on first use (per build
//! folder) Maven builds one with the Quarkus plugin from a small project written into
//! `<target>/apicurio-registry-<version>/`. Two parts of the registry's build do not resolve
//! from Maven Central, and the project does without them: the JSON Schema validator
//! (`org.everit.json.schema`, on JitPack only: JSON Schema artifacts are not validated) and
//! the build step of `apicurio-common-app-components-config-index` (its deployment jar is not
//! published), whose one product, the list of dynamically changeable settings, the project
//! provides empty (those settings keep their start-up values). Avro and Protobuf schemas,
//! compatibility rules and the Confluent API are untouched. Storage is the registry's
//! default: H2 in memory, gone when the process ends.

use std::fs;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::launcher::{free_port, make_once, run_tied, spawn_tied, target_dir, LaunchError};

/// The Apicurio Registry release started: the newest whose dependencies all resolve from
/// Maven Central (2.6.x and 3.x need `apicurio-registry-schema-util-provider` versions that
/// are not published there).
pub const APICURIO_REGISTRY_VERSION: &str = "2.4.2.Final";

/// The Quarkus release Apicurio Registry 2.4.2.Final is built with.
const QUARKUS_VERSION: &str = "2.16.4.Final";

/// How long a started registry may take to answer (it starts in about 15 s here).
const READY_TIMEOUT: Duration = Duration::from_secs(120);

const PRODUCERS: &str = r#"package kafkit.testkit;

import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import java.util.List;
import javax.enterprise.context.ApplicationScoped;
import javax.enterprise.inject.Produces;

/** What the config-index extension's build step generates: here, no dynamic settings. */
@ApplicationScoped
public class Producers {
    @Produces
    @ApplicationScoped
    DynamicConfigPropertyList dynamicConfigProperties() {
        return new DynamicConfigPropertyList(List.of());
    }
}
"#;

// The registry's own application.properties (in its jar) is read as well; the registry's
// beans live in that dependency, so it must be indexed.
const APPLICATION_PROPERTIES: &str = "\
quarkus.index-dependency.registry.group-id=io.apicurio
quarkus.index-dependency.registry.artifact-id=apicurio-registry-app
";

fn pom() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafkit.testkit</groupId>
  <artifactId>apicurio-registry-runner</artifactId>
  <version>0</version>
  <properties>
    <maven.compiler.source>17</maven.compiler.source>
    <maven.compiler.target>17</maven.compiler.target>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>io.quarkus</groupId><artifactId>quarkus-bom</artifactId>
        <version>{QUARKUS_VERSION}</version><type>pom</type><scope>import</scope>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>io.apicurio</groupId><artifactId>apicurio-registry-app</artifactId>
      <version>{APICURIO_REGISTRY_VERSION}</version>
      <exclusions>
        <exclusion><groupId>com.github.everit-org.json-schema</groupId><artifactId>org.everit.json.schema</artifactId></exclusion>
        <exclusion><groupId>io.apicurio</groupId><artifactId>apicurio-common-app-components-config-index</artifactId></exclusion>
      </exclusions>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>io.quarkus</groupId><artifactId>quarkus-maven-plugin</artifactId>
        <version>{QUARKUS_VERSION}</version>
        <executions><execution><goals><goal>build</goal></goals></execution></executions>
      </plugin>
    </plugins>
  </build>
</project>
"#
    )
}

/// Builds the registry's runnable jar with Maven on first use (per build folder) and
/// returns it. Safe to call from concurrent processes: one builds, the others wait. Blocks
/// (about a minute with a filled `~/.m2`, several with an empty one).
///
/// # Errors
///
/// If `mvn` is missing or fails (the message holds its output), or it leaves no jar.
pub fn schema_registry_jar() -> Result<PathBuf, LaunchError> {
    static BUILT: OnceLock<Result<PathBuf, LaunchError>> = OnceLock::new();
    BUILT.get_or_init(build_uncached).clone()
}

fn build_uncached() -> Result<PathBuf, LaunchError> {
    let dir = target_dir().join(format!("apicurio-registry-{APICURIO_REGISTRY_VERSION}"));
    let jar = dir.join("target/apicurio-registry-runner-0-runner.jar");
    let write = |path: PathBuf, text: &str| {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| LaunchError::io(format!("cannot create {}", parent.display()), e))?;
        }
        fs::write(&path, text)
            .map_err(|e| LaunchError::io(format!("cannot write {}", path.display()), e))
    };
    make_once(
        "the schema registry",
        &dir.join("build.lock"),
        &dir.join(".complete"),
        || {
            write(dir.join("pom.xml"), &pom())?;
            write(
                dir.join("src/main/java/kafkit/testkit/Producers.java"),
                PRODUCERS,
            )?;
            write(
                dir.join("src/main/resources/application.properties"),
                APPLICATION_PROPERTIES,
            )?;
            let mut mvn = Command::new("mvn");
            mvn.args(["-q", "-B", "-f"])
                .arg(dir.join("pom.xml"))
                .args(["package", "-DskipTests"]);
            run_tied(
                mvn,
                &format!("building Apicurio Registry {APICURIO_REGISTRY_VERSION} with Maven (mvn)"),
            )?;
            if !jar.exists() {
                return Err(LaunchError::new(format!(
                    "mvn succeeded but {} is missing",
                    jar.display()
                )));
            }
            Ok(())
        },
    )?;
    Ok(jar)
}

/// A running Apicurio Registry on a free port of 127.0.0.1, stopped on drop (and killed
/// with the test process). Point a Schema Registry client at [`url`](Self::url).
#[derive(Debug)]
pub struct SchemaRegistry {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl SchemaRegistry {
    /// Builds the registry if needed ([`schema_registry_jar`]), starts it and waits until its
    /// Confluent API answers. Blocks, so async tests call it through `spawn_blocking`.
    ///
    /// # Errors
    ///
    /// If the build fails, `java` is missing, or the registry does not answer within two
    /// minutes (the message holds its log's tail).
    pub fn start() -> Result<SchemaRegistry, LaunchError> {
        let jar = schema_registry_jar()?;
        let port = free_port();
        let log = target_dir().join(format!(
            "apicurio-registry-{APICURIO_REGISTRY_VERSION}/registry-{port}.log"
        ));
        let log_file = fs::File::create(&log)
            .map_err(|e| LaunchError::io(format!("cannot create {}", log.display()), e))?;
        let err_file = log_file
            .try_clone()
            .map_err(|e| LaunchError::io("cannot share the registry's log", e))?;
        let mut java = Command::new("java");
        java.arg("-jar")
            .arg(&jar)
            .env("HTTP_PORT", port.to_string())
            .env("QUARKUS_HTTP_HOST", "127.0.0.1")
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file);
        let child = spawn_tied(java).map_err(|e| LaunchError::io("cannot start `java`", e))?;
        let mut registry = SchemaRegistry { child, port, log };
        registry.wait_ready()?;
        Ok(registry)
    }

    fn wait_ready(&mut self) -> Result<(), LaunchError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok((200, _)) = self.request("GET", "/subjects", None) {
                return Ok(());
            }
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() >= deadline {
                let log = fs::read_to_string(&self.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                let why = match exited {
                    Some(status) => format!("exited ({status})"),
                    None => format!("did not answer within {READY_TIMEOUT:?}"),
                };
                return Err(LaunchError::new(format!(
                    "Apicurio Registry on port {} {why}; the end of {}:\n{}",
                    self.port,
                    self.log.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The Confluent-compatible API's base URL, such as
    /// `http://127.0.0.1:41234/apis/ccompat/v7`: what `schema.registry.url` names.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/apis/ccompat/v7", self.port)
    }

    /// One HTTP/1.0 request to the Confluent API (`path` below [`url`](Self::url), such as
    /// `/subjects`), with a JSON body if given: the status and the body of the answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let body = body.unwrap_or("");
        write!(
            stream,
            "{method} /apis/ccompat/v7{path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\
             Content-Type: application/vnd.schemaregistry.v1+json\r\n\
             Accept: application/vnd.schemaregistry.v1+json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| io::Error::other(format!("not an HTTP answer: {answer:?}")))?;
        let body = answer
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body)
            .to_string();
        Ok((status, body))
    }
}

impl Drop for SchemaRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READING_V1: &str =
        r#"{"type":"record","name":"Reading","fields":[{"name":"sensor","type":"string"}]}"#;
    const READING_V2: &str = r#"{"type":"record","name":"Reading","fields":[{"name":"sensor","type":"string"},{"name":"celsius","type":"double","default":0.0}]}"#;
    const INCOMPATIBLE: &str =
        r#"{"type":"record","name":"Reading","fields":[{"name":"sensor","type":"int"}]}"#;

    fn schema(avro: &str) -> String {
        serde_json::json!({ "schema": avro }).to_string()
    }

    /// The Confluent API a Schema Registry client uses: register (the same schema twice
    /// gets the same id), look up by id and by subject, a compatibility check.
    #[test]
    fn the_registry_serves_the_confluent_api() {
        let registry = SchemaRegistry::start().unwrap_or_else(|e| panic!("{e}"));
        assert!(registry.url().ends_with("/apis/ccompat/v7"));
        let (status, body) = registry
            .request(
                "POST",
                "/subjects/readings-value/versions",
                Some(&schema(READING_V1)),
            )
            .unwrap();
        assert_eq!(status, 200, "{body}");
        let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no id in {body}"));
        let (_, again) = registry
            .request(
                "POST",
                "/subjects/readings-value/versions",
                Some(&schema(READING_V1)),
            )
            .unwrap();
        assert_eq!(again, body, "the same schema, the same id");

        let (status, body) = registry
            .request("GET", &format!("/schemas/ids/{id}"), None)
            .unwrap();
        assert_eq!(status, 200, "{body}");
        let found: serde_json::Value = serde_json::from_str(&body).unwrap();
        let found: serde_json::Value =
            serde_json::from_str(found["schema"].as_str().unwrap()).unwrap();
        assert_eq!(
            found,
            serde_json::from_str::<serde_json::Value>(READING_V1).unwrap()
        );

        let (status, body) = registry
            .request("GET", "/subjects/readings-value/versions/latest", None)
            .unwrap();
        assert_eq!(status, 200, "{body}");
        let latest: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (latest["id"].as_i64(), latest["version"].as_i64()),
            (Some(id), Some(1))
        );

        // Under BACKWARD compatibility: a field added with a default is compatible, a
        // changed type is not.
        let (status, body) = registry
            .request(
                "PUT",
                "/config/readings-value",
                Some(r#"{"compatibility":"BACKWARD"}"#),
            )
            .unwrap();
        assert_eq!(status, 200, "{body}");
        let check = |avro: &str| {
            let (status, body) = registry
                .request(
                    "POST",
                    "/compatibility/subjects/readings-value/versions/latest",
                    Some(&schema(avro)),
                )
                .unwrap();
            assert_eq!(status, 200, "{body}");
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["is_compatible"].as_bool()
        };
        assert_eq!(check(READING_V2), Some(true));
        assert_eq!(check(INCOMPATIBLE), Some(false));
    }
}
