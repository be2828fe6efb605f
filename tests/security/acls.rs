//! `create_acls`, `describe_acls` and `delete_acls` on a broker with KRaft's authorizer: the
//! second SASL user may write to a topic only while an ACL allows it; filters find what was
//! created; partial failures come back per binding, typed.

use crate::{authorizing_broker, client, sasl_as, secure_topic};
use kafkit::{
    AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter, AclOperation,
    AclPermissionType, Admin, Error, ErrorCode, PatternType, Producer, ProducerConfig,
    ProducerRecord, ResourcePattern, ResourcePatternFilter, ResourceType, SaslMechanism,
    SecurityConfig, SecurityProtocol,
};
use kafkit_testkit::{SASL_OTHER_PASSWORD, SASL_OTHER_USER, SASL_PASSWORD, SASL_USER};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::Instant;

fn as_user(user: &str, password: &str) -> SecurityConfig {
    sasl_as(
        SecurityProtocol::SaslPlaintext,
        SaslMechanism::Plain,
        user,
        password,
    )
}

/// One record written to `topic` as `security`'s user, by a producer of its own (a fresh one
/// asks for the topic's metadata anew, as its user is allowed now); the outcome.
async fn write(bootstrap: &str, security: &SecurityConfig, topic: &str) -> kafkit::Result<()> {
    let mut config = ProducerConfig::new(bootstrap);
    config.client.security = security.clone();
    // Idempotence would also need IDEMPOTENT_WRITE on the cluster before the first send.
    config.enable_idempotence = false;
    config.acks = kafkit::Acks::Leader;
    config.max_block = Duration::from_secs(5);
    let producer = Producer::new(config).await?;
    let delivery = producer
        .send(ProducerRecord::new(topic, "v").key("k"))
        .await?;
    producer.flush().await;
    let outcome = delivery.await.map(|_| ());
    producer.close(Duration::from_secs(5)).await;
    outcome
}

fn refused_on_topic(outcome: &kafkit::Result<()>) -> bool {
    matches!(outcome, Err(e) if e.code() == Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED))
}

/// Writes until `done` holds of the outcome, for up to 15 s: the controller commits an ACL
/// change, and the broker's authorizer applies it a moment after the call returns.
async fn write_until(
    bootstrap: &str,
    security: &SecurityConfig,
    topic: &str,
    what: &str,
    done: impl Fn(&kafkit::Result<()>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let outcome = write(bootstrap, security, topic).await;
        if done(&outcome) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: still {outcome:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn filter(
    resource_type: ResourceType,
    name: &str,
    pattern_type: PatternType,
    operation: AclOperation,
) -> AclBindingFilter {
    AclBindingFilter::new(
        ResourcePatternFilter::new(resource_type, Some(name.to_string()), pattern_type),
        AccessControlEntryFilter::new(
            Some(format!("User:{SASL_OTHER_USER}")),
            None,
            operation,
            AclPermissionType::Any,
        ),
    )
}

async fn described(admin: &Admin, filter: AclBindingFilter) -> BTreeSet<AclBinding> {
    admin
        .describe_acls(filter)
        .await
        .expect("describe_acls")
        .into_iter()
        .collect()
}

/// Runs Java's `kafka-acls` (`org.apache.kafka.tools.AclCommand`) against the broker's
/// PLAINTEXT listener, whose principal is a super user; its standard output.
async fn java_acls(bootstrap: String, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let output = kafkit_testkit::java_tool("org.apache.kafka.tools.AclCommand")
            .expect("the Java tools")
            .arg("--bootstrap-server")
            .arg(&bootstrap)
            .args(&args)
            .output()
            .expect("run java");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "AclCommand {args:?} failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    })
    .await
    .expect("the Java tool's thread panicked")
}

/// Describes until the answer is `expected`, for up to 10 s: the broker answers from its
/// copy of the metadata, which follows the controller's commit a moment later.
async fn described_until(admin: &Admin, filter: AclBindingFilter, expected: &BTreeSet<AclBinding>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = described(admin, filter.clone()).await;
        if &found == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{filter}: {found:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_user_may_write_only_while_an_acl_allows_it() {
    let bootstrap = authorizing_broker().await.bootstrap("SASL_PLAINTEXT");
    let alice = as_user(SASL_USER, SASL_PASSWORD);
    let bob = as_user(SASL_OTHER_USER, SASL_OTHER_PASSWORD);
    let topic = secure_topic(&bootstrap, &alice, 1).await;
    let admin = Admin::new(client(&bootstrap, &alice)).await.unwrap();
    let bobs_admin = Admin::new(client(&bootstrap, &bob)).await.unwrap();
    let principal = format!("User:{SASL_OTHER_USER}");

    // Negative control: no ACL, no write, a typed refusal; the super user writes.
    let before = write(&bootstrap, &bob, &topic).await;
    assert!(refused_on_topic(&before), "{before:?}");
    write(&bootstrap, &alice, &topic).await.unwrap();

    let literal = AclBinding::new(
        ResourcePattern::new(ResourceType::Topic, &topic, PatternType::Literal),
        AccessControlEntry::new(
            &principal,
            "*",
            AclOperation::Write,
            AclPermissionType::Allow,
        ),
    );
    let prefix = &topic[..topic.len() - 3];
    let prefixed = AclBinding::new(
        ResourcePattern::new(ResourceType::Topic, prefix, PatternType::Prefixed),
        AccessControlEntry::new(
            &principal,
            "*",
            AclOperation::Read,
            AclPermissionType::Allow,
        ),
    );
    let wildcard_operation = AclBinding::new(
        ResourcePattern::new(ResourceType::Topic, &topic, PatternType::Literal),
        AccessControlEntry::new(&principal, "*", AclOperation::Any, AclPermissionType::Allow),
    );
    let bad_principal = AclBinding::new(
        ResourcePattern::new(ResourceType::Topic, &topic, PatternType::Literal),
        AccessControlEntry::new(
            SASL_OTHER_USER,
            "*",
            AclOperation::Read,
            AclPermissionType::Allow,
        ),
    );

    // Bob may not grant himself anything: each binding refused, typed.
    let denied = bobs_admin.create_acls([literal.clone()]).await.unwrap();
    assert_eq!(
        denied[&literal].as_ref().unwrap_err().code(),
        Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
        "{denied:?}"
    );
    let err = bobs_admin
        .describe_acls(AclBindingFilter::ANY)
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
        "{err:?}"
    );

    let created = admin
        .create_acls([
            literal.clone(),
            prefixed.clone(),
            wildcard_operation.clone(),
            bad_principal.clone(),
        ])
        .await
        .unwrap();
    assert_eq!(created.len(), 4, "{created:?}");
    created[&literal].clone().unwrap();
    created[&prefixed].clone().unwrap();
    let wildcard = &created[&wildcard_operation];
    assert!(
        matches!(wildcard, Err(Error::InvalidArgument(m)) if m.contains("operation is ANY")),
        "{wildcard:?}"
    );
    assert_eq!(
        created[&bad_principal].as_ref().unwrap_err().code(),
        Some(ErrorCode::INVALID_REQUEST),
        "{:?}",
        created[&bad_principal]
    );

    write_until(&bootstrap, &bob, &topic, "the WRITE ACL", |o| o.is_ok()).await;

    // Each pattern type finds its own binding; MATCH finds every one that applies to the
    // topic; an operation narrows it down.
    let both: BTreeSet<AclBinding> = [literal.clone(), prefixed.clone()].into();
    let t = ResourceType::Topic;
    described_until(
        &admin,
        filter(t, &topic, PatternType::Literal, AclOperation::Any),
        &[literal.clone()].into(),
    )
    .await;
    described_until(
        &admin,
        filter(t, prefix, PatternType::Prefixed, AclOperation::Any),
        &[prefixed.clone()].into(),
    )
    .await;
    described_until(
        &admin,
        filter(t, &topic, PatternType::Match, AclOperation::Any),
        &both,
    )
    .await;
    described_until(
        &admin,
        filter(t, &topic, PatternType::Match, AclOperation::Read),
        &[prefixed.clone()].into(),
    )
    .await;
    let groups = filter(
        ResourceType::Group,
        &topic,
        PatternType::Match,
        AclOperation::Any,
    );
    described_until(&admin, groups, &BTreeSet::new()).await;
    let everything = described(&admin, AclBindingFilter::ANY).await;
    assert!(everything.is_superset(&both), "{everything:?}");

    // Java's tool reads the same bindings kafkit wrote, and prints them as kafkit does.
    let plaintext = authorizing_broker().await.cluster.bootstrap();
    let listed = java_acls(
        plaintext.clone(),
        &[
            "--list",
            "--topic",
            &topic,
            "--resource-pattern-type",
            "match",
        ],
    )
    .await;
    for binding in &both {
        let pattern = format!("`{}`", binding.pattern);
        let entry = binding.entry.to_string();
        assert!(
            listed.contains(&pattern) && listed.contains(&entry),
            "{binding} not in:\n{listed}"
        );
    }

    // Delete the WRITE grant only; a filter matching nothing answers an empty list.
    let nothing = filter(t, "no-such-topic", PatternType::Literal, AclOperation::Any);
    let deleted = admin
        .delete_acls([literal.to_filter(), nothing.clone()])
        .await
        .unwrap();
    let matched = deleted[&literal.to_filter()].as_ref().unwrap();
    assert_eq!(matched.len(), 1, "{matched:?}");
    assert_eq!(matched[0].binding, literal);
    matched[0].result.clone().unwrap();
    assert!(
        deleted[&nothing].as_ref().unwrap().is_empty(),
        "{deleted:?}"
    );
    described_until(
        &admin,
        filter(t, &topic, PatternType::Match, AclOperation::Any),
        &[prefixed.clone()].into(),
    )
    .await;

    write_until(
        &bootstrap,
        &bob,
        &topic,
        "the WRITE ACL's deletion",
        refused_on_topic,
    )
    .await;

    // A binding Java's tool wrote reads back whole: other resource and pattern types, deny.
    let transactional_id = kafkit_testkit::unique_name("txn");
    java_acls(
        plaintext,
        &[
            "--add",
            "--deny-principal",
            &principal,
            "--operation",
            "Describe",
            "--transactional-id",
            &transactional_id,
            "--resource-pattern-type",
            "prefixed",
        ],
    )
    .await;
    let java_made = AclBinding::new(
        ResourcePattern::new(
            ResourceType::TransactionalId,
            &transactional_id,
            PatternType::Prefixed,
        ),
        AccessControlEntry::new(
            &principal,
            "*",
            AclOperation::Describe,
            AclPermissionType::Deny,
        ),
    );
    let by_id = filter(
        ResourceType::TransactionalId,
        &transactional_id,
        PatternType::Any,
        AclOperation::Any,
    );
    described_until(&admin, by_id.clone(), &[java_made.clone()].into()).await;
    let deleted = admin.delete_acls([by_id.clone()]).await.unwrap();
    let matched = deleted[&by_id].as_ref().unwrap();
    assert_eq!(matched.len(), 1, "{matched:?}");
    assert_eq!(matched[0].binding, java_made);

    // Bob may not delete ACLs either; the prefixed one stays until the super user does.
    let denied = bobs_admin
        .delete_acls([prefixed.to_filter()])
        .await
        .unwrap();
    assert_eq!(
        denied[&prefixed.to_filter()].as_ref().unwrap_err().code(),
        Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
        "{denied:?}"
    );
    let by_principal = AclBindingFilter::new(
        ResourcePatternFilter::new(t, Some(prefix.to_string()), PatternType::Any),
        AccessControlEntryFilter::new(
            Some(principal.clone()),
            None,
            AclOperation::Any,
            AclPermissionType::Any,
        ),
    );
    let deleted = admin.delete_acls([by_principal.clone()]).await.unwrap();
    let matched = deleted[&by_principal].as_ref().unwrap();
    assert_eq!(
        matched
            .iter()
            .map(|m| m.binding.clone())
            .collect::<Vec<_>>(),
        [prefixed]
    );
    let any_of_topic = filter(t, &topic, PatternType::Match, AclOperation::Any);
    described_until(&admin, any_of_topic, &BTreeSet::new()).await;
}
