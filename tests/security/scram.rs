//! `alter_user_scram_credentials` and `describe_user_scram_credentials` on a broker with
//! KRaft's authorizer: a user created by kafkit logs in with kafkit's SCRAM client (so the
//! salted password kafkit computed is the one the broker checks against), is described with
//! its mechanisms and iterations, and is locked out mechanism by mechanism as its credentials
//! are deleted.

use crate::{authorizing_broker, client, sasl_as};
use kafkit::{
    Admin, Error, ErrorCode, SaslMechanism, ScramCredentialInfo, ScramMechanism, SecurityProtocol,
    UserScramCredentialDeletion, UserScramCredentialUpsertion,
};
use kafkit_testkit::{SASL_OTHER_PASSWORD, SASL_OTHER_USER, SASL_PASSWORD, SASL_USER};
use std::time::Duration;
use tokio::time::Instant;

async fn login(
    bootstrap: &str,
    mechanism: SaslMechanism,
    user: &str,
    password: &str,
) -> kafkit::Result<Admin> {
    let security = sasl_as(SecurityProtocol::SaslPlaintext, mechanism, user, password);
    Admin::new(client(bootstrap, &security)).await
}

/// Logs in until `done` holds of the outcome, for up to 15 s: the controller commits a
/// credential, and the broker accepts it a moment after the call returns.
async fn login_until(
    bootstrap: &str,
    mechanism: SaslMechanism,
    (user, password): (&str, &str),
    what: &str,
    done: impl Fn(&kafkit::Result<Admin>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let outcome = login(bootstrap, mechanism, user, password).await;
        if done(&outcome) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {mechanism:?} as {user}: still {:?}",
            outcome.map(|_| "logged in")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn refused(outcome: &kafkit::Result<Admin>) -> bool {
    matches!(outcome, Err(Error::Authentication { .. }))
}

#[tokio::test]
async fn a_user_made_by_the_admin_client_logs_in_until_its_credentials_are_deleted() {
    let bootstrap = authorizing_broker().await.bootstrap("SASL_PLAINTEXT");
    let admin = login(&bootstrap, SaslMechanism::Plain, SASL_USER, SASL_PASSWORD)
        .await
        .unwrap();
    let user = kafkit_testkit::unique_name("carol");
    let password = format!("{user}-Pa55=,word");
    let weak = kafkit_testkit::unique_name("weak");
    let sha256 = ScramCredentialInfo::new(ScramMechanism::ScramSha256, 4096);
    let sha512 = ScramCredentialInfo::new(ScramMechanism::ScramSha512, 8192);

    // Negative control: the user does not exist yet.
    let before = login(&bootstrap, SaslMechanism::ScramSha256, &user, &password).await;
    assert!(refused(&before), "{:?}", before.map(|_| ()));

    // A KRaft controller takes one alteration per user and request: both mechanisms at once
    // are refused together, and nothing is stored.
    let upsert_256 = UserScramCredentialUpsertion::new(&user, sha256, password.as_str());
    // A salt of the caller's choosing works as well as a random one.
    let upsert_512 = UserScramCredentialUpsertion::new(&user, sha512, password.as_str())
        .with_salt(b"kafkit-chosen-salt".to_vec());
    let twice = admin
        .alter_user_scram_credentials([upsert_256.clone().into(), upsert_512.clone().into()])
        .await
        .unwrap();
    assert_eq!(
        twice[&user].as_ref().unwrap_err().code(),
        Some(ErrorCode::DUPLICATE_RESOURCE),
        "{twice:?}"
    );
    let described = admin
        .describe_user_scram_credentials([user.clone()])
        .await
        .unwrap();
    assert_eq!(
        described[&user].as_ref().unwrap_err().code(),
        Some(ErrorCode::RESOURCE_NOT_FOUND),
        "{described:?}"
    );

    let results = admin
        .alter_user_scram_credentials([
            upsert_256.into(),
            UserScramCredentialUpsertion::new(
                &weak,
                ScramCredentialInfo::new(ScramMechanism::ScramSha256, 1000),
                "pw",
            )
            .into(),
            UserScramCredentialUpsertion::new("", sha256, "pw").into(),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 3, "{results:?}");
    results[&user].clone().unwrap();
    admin
        .alter_user_scram_credentials([upsert_512.into()])
        .await
        .unwrap()[&user]
        .clone()
        .unwrap();
    assert!(
        matches!(&results[&weak], Err(Error::InvalidArgument(m)) if m.contains("1000 iterations")),
        "{results:?}"
    );
    assert_eq!(
        results[""].as_ref().unwrap_err().code(),
        Some(ErrorCode::UNACCEPTABLE_CREDENTIAL),
        "{results:?}"
    );

    for mechanism in [SaslMechanism::ScramSha256, SaslMechanism::ScramSha512] {
        login_until(&bootstrap, mechanism, (&user, &password), "created", |o| {
            o.is_ok()
        })
        .await;
        // The broker checks the password: a wrong one is refused, typed.
        let wrong = login(&bootstrap, mechanism, &user, "not-the-password").await;
        assert!(refused(&wrong), "{:?}", wrong.map(|_| ()));
    }

    let nobody = kafkit_testkit::unique_name("nobody");
    let described = admin
        .describe_user_scram_credentials([user.clone(), nobody.clone()])
        .await
        .unwrap();
    let mine = described[&user].as_ref().unwrap();
    assert_eq!(mine.name, user);
    let mut infos = mine.credential_infos.clone();
    infos.sort_by_key(|i| i.mechanism);
    assert_eq!(infos, [sha256, sha512]);
    assert_eq!(
        described[&nobody].as_ref().unwrap_err().code(),
        Some(ErrorCode::RESOURCE_NOT_FOUND),
        "{described:?}"
    );
    let everyone = admin
        .describe_user_scram_credentials(Vec::<String>::new())
        .await
        .unwrap();
    for name in [SASL_USER, SASL_OTHER_USER, user.as_str()] {
        assert!(everyone[name].is_ok(), "{name}: {everyone:?}");
    }

    // Only a user allowed to ALTER the cluster may change credentials.
    let bob = login(
        &bootstrap,
        SaslMechanism::Plain,
        SASL_OTHER_USER,
        SASL_OTHER_PASSWORD,
    )
    .await
    .unwrap();
    let denied = bob
        .alter_user_scram_credentials([UserScramCredentialDeletion::new(
            &user,
            ScramMechanism::ScramSha512,
        )
        .into()])
        .await
        .unwrap();
    assert_eq!(
        denied[&user].as_ref().unwrap_err().code(),
        Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
        "{denied:?}"
    );
    let err = bob
        .describe_user_scram_credentials([user.clone()])
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
        "{err:?}"
    );

    // Deleting one mechanism locks that one out and leaves the other.
    let deleted = admin
        .alter_user_scram_credentials([UserScramCredentialDeletion::new(
            &user,
            ScramMechanism::ScramSha256,
        )
        .into()])
        .await
        .unwrap();
    deleted[&user].clone().unwrap();
    login_until(
        &bootstrap,
        SaslMechanism::ScramSha256,
        (&user, &password),
        "deleted",
        refused,
    )
    .await;
    login(&bootstrap, SaslMechanism::ScramSha512, &user, &password)
        .await
        .unwrap();
    let again = admin
        .alter_user_scram_credentials([UserScramCredentialDeletion::new(
            &user,
            ScramMechanism::ScramSha256,
        )
        .into()])
        .await
        .unwrap();
    assert_eq!(
        again[&user].as_ref().unwrap_err().code(),
        Some(ErrorCode::RESOURCE_NOT_FOUND),
        "{again:?}"
    );

    admin
        .alter_user_scram_credentials([UserScramCredentialDeletion::new(
            &user,
            ScramMechanism::ScramSha512,
        )
        .into()])
        .await
        .unwrap()[&user]
        .clone()
        .unwrap();
    login_until(
        &bootstrap,
        SaslMechanism::ScramSha512,
        (&user, &password),
        "deleted",
        refused,
    )
    .await;
    let gone = admin
        .describe_user_scram_credentials([user.clone()])
        .await
        .unwrap();
    assert_eq!(
        gone[&user].as_ref().unwrap_err().code(),
        Some(ErrorCode::RESOURCE_NOT_FOUND),
        "{gone:?}"
    );
}
