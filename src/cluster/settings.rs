//! Turning a validated [`ClientConfig`] into the settings the cluster layer runs on.

use super::ClusterSettings;
use crate::config::ClientConfig;
use crate::connection::{ConnectionParams, ConnectionSecurity};
use crate::error::Result;
use crate::retry::Backoff;
use kafka_protocol::protocol::StrBytes;

pub(crate) fn cluster_settings(config: &ClientConfig) -> Result<ClusterSettings> {
    let bootstrap = config
        .parse_bootstrap()?
        .into_iter()
        .map(|(host, port)| {
            if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            }
        })
        .collect();
    Ok(ClusterSettings {
        bootstrap,
        params: ConnectionParams {
            client_id: StrBytes::from_string(config.client_id.clone()),
            connect_timeout: config.connect_timeout,
            request_timeout: config.request_timeout,
            max_response_size: config.max_response_size,
            max_control_response_size: config.max_control_response_size,
            security: ConnectionSecurity::from_config(&config.security)?,
        },
        backoff: Backoff {
            initial: config.reconnect_backoff,
            max: config.reconnect_backoff_max,
        },
        metadata_max_age: config.metadata_max_age,
        metadata_max_idle: config.metadata_max_idle,
        allow_auto_create_topics: config.allow_auto_create_topics,
    })
}
