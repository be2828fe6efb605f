//! The connection-level form of the security settings: certificates loaded and SASL
//! credentials resolved once, when the client is built.

use super::sasl::SaslSettings;
#[cfg(feature = "tls")]
use super::tls::TlsSettings;
use crate::config::SecurityConfig;
use crate::error::Result;

/// TLS and SASL for every connection of a client; cheap to clone.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnectionSecurity {
    #[cfg(feature = "tls")]
    pub tls: Option<TlsSettings>,
    pub sasl: Option<SaslSettings>,
}

impl ConnectionSecurity {
    /// Loads certificates and resolves credentials; fails on unreadable files or keys.
    pub(crate) fn from_config(config: &SecurityConfig) -> Result<Self> {
        Ok(Self {
            #[cfg(feature = "tls")]
            tls: if config.protocol.uses_tls() {
                Some(TlsSettings::from_config(&config.tls)?)
            } else {
                None
            },
            sasl: if config.protocol.uses_sasl() {
                Some(SaslSettings::from_config(&config.sasl)?)
            } else {
                None
            },
        })
    }
}
