//! The fake broker's own answers, per API, with the errors a hook injected.

use super::log::{Logs, NONE, TOPIC_ALREADY_EXISTS, UNKNOWN_TOPIC_OR_PARTITION};
use super::script::{Received, ResponseBody};
use super::Shared;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Message, Request, StrBytes, VersionRange};
use uuid::Uuid;

/// Partitions a hook wants failed: `(topic, partition, error code)`.
pub(super) type Injected = [(String, i32, i16)];

/// What the broker sends back.
pub(super) enum Answer {
    Body(Box<dyn ResponseBody>),
    /// Nothing at all: a Produce with acks=0.
    Nothing,
}

/// The default answer to `req`, with `errors` injected; `Err` when the API has no default,
/// or takes no injected errors.
pub(super) fn answer(shared: &Shared, req: &Received, errors: &Injected) -> Result<Answer, String> {
    let body: Box<dyn ResponseBody> = match req.api_key {
        ApiKey::Metadata => Box::new(metadata(shared, req.decode(), req.version, errors)),
        ApiKey::Produce => return Ok(produce(shared, req.decode(), req.version, errors)),
        ApiKey::Fetch => Box::new(fetch(shared, req.decode(), req.version, errors).0),
        ApiKey::ListOffsets => Box::new(list_offsets(shared, req.decode(), req.version, errors)),
        _ if !errors.is_empty() => {
            return Err(format!("{:?} takes no partition errors", req.api_key))
        }
        ApiKey::ApiVersions => Box::new(api_versions()),
        ApiKey::InitProducerId => Box::new(init_producer_id(shared, req.decode())),
        ApiKey::FindCoordinator => Box::new(find_coordinator(shared, req.decode(), req.version)),
        ApiKey::CreateTopics => Box::new(create_topics(shared, req.decode())),
        other => return Err(format!("no default answer to {other:?}")),
    };
    Ok(Answer::Body(body))
}

fn injected(errors: &Injected, topic: &str, partition: i32) -> Option<i16> {
    errors
        .iter()
        .find(|(t, p, _)| t == topic && *p == partition)
        .map(|(_, _, code)| *code)
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Every API kafka-protocol knows, with the versions it supports.
fn api_versions() -> ApiVersionsResponse {
    let keys = ApiKey::iter().map(|key| {
        let range = versions(key);
        ApiVersion::default()
            .with_api_key(key as i16)
            .with_min_version(range.min)
            .with_max_version(range.max)
    });
    ApiVersionsResponse::default().with_api_keys(keys.collect())
}

/// The versions of `key` kafka-protocol supports: for the APIs answered by default, those
/// both the request and the response type support (`ApiKey::valid_versions` lists
/// InitProducerId v6, which the request type cannot decode).
pub(super) fn versions(key: ApiKey) -> VersionRange {
    fn both<R: Request>() -> VersionRange {
        R::VERSIONS.intersect(&<R::Response as Message>::VERSIONS)
    }
    match key {
        ApiKey::ApiVersions => both::<ApiVersionsRequest>(),
        ApiKey::Metadata => both::<MetadataRequest>(),
        ApiKey::Produce => both::<ProduceRequest>(),
        ApiKey::Fetch => both::<FetchRequest>(),
        ApiKey::ListOffsets => both::<ListOffsetsRequest>(),
        ApiKey::InitProducerId => both::<InitProducerIdRequest>(),
        ApiKey::FindCoordinator => both::<FindCoordinatorRequest>(),
        ApiKey::CreateTopics => both::<CreateTopicsRequest>(),
        other => other.valid_versions(),
    }
}

/// Itself as the only broker, leading every partition of the topics asked for (all of them
/// for a null list).
fn metadata(
    shared: &Shared,
    req: MetadataRequest,
    version: i16,
    errors: &Injected,
) -> MetadataResponse {
    let logs = shared.logs();
    let names: Vec<String> = match req.topics {
        None => logs.topics().map(|(name, _)| name.clone()).collect(),
        Some(topics) => topics
            .into_iter()
            .map(|t| match t.name {
                Some(name) => name.to_string(),
                None => logs.name_of(t.topic_id).unwrap_or_default().to_string(),
            })
            .collect(),
    };
    let node = shared.node_id;
    let topics = names.iter().map(|name| {
        let topic = MetadataResponseTopic::default().with_name(Some(str_bytes(name).into()));
        let Some(log) = logs.topic(name) else {
            return topic.with_error_code(UNKNOWN_TOPIC_OR_PARTITION);
        };
        let partitions = (0..log.partitions.len() as i32).map(|p| {
            MetadataResponsePartition::default()
                .with_error_code(injected(errors, name, p).unwrap_or(NONE))
                .with_partition_index(p)
                .with_leader_id(node.into())
                .with_leader_epoch(0)
                .with_replica_nodes(vec![node.into()])
                .with_isr_nodes(vec![node.into()])
        });
        topic
            .with_topic_id(log.id)
            .with_partitions(partitions.collect())
    });
    let broker = MetadataResponseBroker::default()
        .with_node_id(node.into())
        .with_host(str_bytes(&shared.addr.ip().to_string()))
        .with_port(shared.addr.port().into());
    let response = MetadataResponse::default()
        .with_brokers(vec![broker])
        .with_controller_id(node.into())
        .with_topics(topics.collect());
    match version {
        2.. => response.with_cluster_id(Some(str_bytes(super::CLUSTER_ID))),
        _ => response,
    }
}

/// A topic's name, given by name or (in newer versions) by id.
fn topic_name(logs: &Logs, name: &str, id: Uuid) -> String {
    match name {
        "" => logs.name_of(id).unwrap_or_default().to_string(),
        name => name.to_string(),
    }
}

/// Appends each partition's batches and answers their base offsets; acks=0 gets nothing.
fn produce(shared: &Shared, req: ProduceRequest, version: i16, errors: &Injected) -> Answer {
    let mut logs = shared.logs();
    let topics = req.topic_data.into_iter().map(|t| {
        let name = topic_name(&logs, &t.name, t.topic_id);
        let partitions = t.partition_data.into_iter().map(|p| {
            let written = match injected(errors, &name, p.index) {
                Some(code) => Err(code),
                None => match logs.partition_mut(&name, p.index) {
                    None => Err(UNKNOWN_TOPIC_OR_PARTITION),
                    Some(log) => log.append(p.records.as_deref().unwrap_or_default()),
                },
            };
            let response = PartitionProduceResponse::default()
                .with_index(p.index)
                .with_log_start_offset(0);
            match written {
                Ok(base) => response.with_base_offset(base),
                Err(code) => response.with_error_code(code).with_base_offset(-1),
            }
        });
        let response =
            TopicProduceResponse::default().with_partition_responses(partitions.collect());
        match version {
            13.. => response.with_topic_id(t.topic_id),
            _ => response.with_name(str_bytes(&name).into()),
        }
    });
    let response = ProduceResponse::default().with_responses(topics.collect());
    drop(logs);
    shared.appended.notify_waiters();
    match req.acks {
        0 => Answer::Nothing,
        _ => Answer::Body(Box::new(response)),
    }
}

/// The stored batches from each partition's fetch offset, within the request's byte limits
/// (at least one batch, as KIP-74 has it), and whether any partition had records.
pub(super) fn fetch(
    shared: &Shared,
    req: FetchRequest,
    version: i16,
    errors: &Injected,
) -> (FetchResponse, bool) {
    let logs = shared.logs();
    let mut room = usize::try_from(req.max_bytes).unwrap_or(0);
    let mut any = false;
    let topics = req.topics.into_iter().map(|t| {
        let name = topic_name(&logs, &t.topic, t.topic_id);
        let partitions = t.partitions.into_iter().map(|p| {
            let data = PartitionData::default().with_partition_index(p.partition);
            let Some(log) = logs.partition(&name, p.partition) else {
                return data.with_error_code(UNKNOWN_TOPIC_OR_PARTITION);
            };
            let data = data
                .with_high_watermark(log.end())
                .with_last_stable_offset(log.end())
                .with_log_start_offset(0)
                .with_aborted_transactions((req.isolation_level == 1).then(Vec::new));
            if let Some(code) = injected(errors, &name, p.partition) {
                return data.with_error_code(code);
            }
            let limit = room.min(usize::try_from(p.partition_max_bytes).unwrap_or(0));
            match log.read(p.fetch_offset, limit) {
                Err(code) => data.with_error_code(code),
                Ok(records) if room == 0 || records.is_empty() => data,
                Ok(records) => {
                    room = room.saturating_sub(records.len());
                    any = true;
                    data.with_records(Some(records))
                }
            }
        });
        let response = FetchableTopicResponse::default().with_partitions(partitions.collect());
        match version {
            13.. => response.with_topic_id(t.topic_id),
            _ => response.with_topic(str_bytes(&name).into()),
        }
    });
    let response = FetchResponse::default().with_responses(topics.collect());
    (response, any)
}

/// The log start (always 0) for EARLIEST (-2), the end for LATEST (-1); other timestamps
/// find nothing (offset -1), as past the last record.
fn list_offsets(
    shared: &Shared,
    req: ListOffsetsRequest,
    version: i16,
    errors: &Injected,
) -> ListOffsetsResponse {
    let logs = shared.logs();
    let topics = req.topics.into_iter().map(|t| {
        let name = t.name.to_string();
        let partitions = t.partitions.into_iter().map(|p| {
            let response = ListOffsetsPartitionResponse::default()
                .with_partition_index(p.partition_index)
                .with_timestamp(-1);
            let response = match version {
                4.. => response.with_leader_epoch(0),
                _ => response,
            };
            if let Some(code) = injected(errors, &name, p.partition_index) {
                return response.with_error_code(code);
            }
            match (logs.partition(&name, p.partition_index), p.timestamp) {
                (None, _) => response.with_error_code(UNKNOWN_TOPIC_OR_PARTITION),
                (Some(_), -2) => response.with_offset(0),
                (Some(log), -1) => response.with_offset(log.end()),
                (Some(_), _) => response.with_offset(-1),
            }
        });
        ListOffsetsTopicResponse::default()
            .with_name(t.name)
            .with_partitions(partitions.collect())
    });
    ListOffsetsResponse::default().with_topics(topics.collect())
}

/// A new producer id at epoch 0, or the same id at the next epoch when the request names
/// one (KIP-360's epoch bump).
fn init_producer_id(shared: &Shared, req: InitProducerIdRequest) -> InitProducerIdResponse {
    let (id, epoch) = match req.producer_id.0 {
        id if id >= 0 => (id, req.producer_epoch.wrapping_add(1)),
        _ => (shared.new_producer_id(), 0),
    };
    InitProducerIdResponse::default()
        .with_producer_id(id.into())
        .with_producer_epoch(epoch)
}

/// Itself, for every key.
fn find_coordinator(
    shared: &Shared,
    req: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let (node, host, port) = (
        shared.node_id.into(),
        str_bytes(&shared.addr.ip().to_string()),
        i32::from(shared.addr.port()),
    );
    if version < 4 {
        return FindCoordinatorResponse::default()
            .with_node_id(node)
            .with_host(host)
            .with_port(port);
    }
    let coordinators = req.coordinator_keys.into_iter().map(|key| {
        Coordinator::default()
            .with_key(key)
            .with_node_id(node)
            .with_host(host.clone())
            .with_port(port)
    });
    FindCoordinatorResponse::default().with_coordinators(coordinators.collect())
}

/// Creates each topic (one partition for -1) unless it exists or `validate_only` is set.
fn create_topics(shared: &Shared, req: CreateTopicsRequest) -> CreateTopicsResponse {
    let mut logs = shared.logs();
    let results = req.topics.into_iter().map(|t| {
        let partitions = if t.num_partitions < 0 {
            1
        } else {
            t.num_partitions
        };
        let result = CreatableTopicResult::default()
            .with_name(t.name.clone())
            .with_num_partitions(partitions)
            .with_replication_factor(1);
        if logs.topic(&t.name).is_some() {
            return result.with_error_code(TOPIC_ALREADY_EXISTS);
        }
        if !req.validate_only {
            logs.create(&t.name, partitions as usize);
        }
        match logs.topic(&t.name) {
            Some(topic) => result.with_topic_id(topic.id),
            None => result,
        }
    });
    CreateTopicsResponse::default().with_topics(results.collect())
}
