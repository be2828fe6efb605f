//! `Json<T>`: keys and values as JSON through serde (feature `json`).

use super::{present, DefaultSerde, Deserializer, Serializer};
use crate::error::{Error, Result};
use crate::record::Header;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A key or value written and read as JSON by [`DefaultSerde`] (feature `json`): the bytes
/// Kafka Connect's `JsonConverter` writes with `schemas.enable=false`, or any application
/// that sends JSON text.
///
/// ```
/// use kafkit::{DefaultSerde, Deserializer, Json, Serializer};
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Order {
///     id: u64,
///     item: String,
/// }
///
/// let order = Order { id: 7, item: "tea".into() };
/// let bytes = DefaultSerde.serialize("orders", &mut Vec::new(), Json(&order)).unwrap();
/// assert_eq!(bytes.as_deref(), Some(&br#"{"id":7,"item":"tea"}"#[..]));
/// let Json(back): Json<Order> = DefaultSerde.deserialize("orders", &[], bytes.as_ref()).unwrap();
/// assert_eq!(back, order);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Json<T>(pub T);

impl<T: Serialize> Serializer<Json<T>> for DefaultSerde {
    fn serialize(
        &self,
        _topic: &str,
        _headers: &mut Vec<Header>,
        data: Json<T>,
    ) -> Result<Option<Bytes>> {
        match serde_json::to_vec(&data.0) {
            Ok(json) => Ok(Some(Bytes::from(json))),
            Err(e) => Err(Error::serialization_with_source(
                format!("cannot write {} as JSON: {e}", std::any::type_name::<T>()),
                e,
            )),
        }
    }
}

impl<T: DeserializeOwned> Deserializer<Json<T>> for DefaultSerde {
    fn deserialize(
        &self,
        _topic: &str,
        _headers: &[Header],
        data: Option<&Bytes>,
    ) -> Result<Json<T>> {
        let bytes = present(data, "Json<T>")?;
        match serde_json::from_slice(bytes) {
            Ok(value) => Ok(Json(value)),
            Err(e) => Err(Error::serialization_with_source(
                format!(
                    "{} bytes are not the JSON of {}: {e}",
                    bytes.len(),
                    std::any::type_name::<T>()
                ),
                e,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn json_round_trips_and_refuses_what_does_not_parse() {
        let map = BTreeMap::from([("a".to_string(), 1_i64), ("b".to_string(), -2)]);
        let bytes = DefaultSerde
            .serialize("t", &mut Vec::new(), Json(map.clone()))
            .unwrap();
        assert_eq!(bytes.as_deref(), Some(&br#"{"a":1,"b":-2}"#[..]));
        let back: Json<BTreeMap<String, i64>> =
            DefaultSerde.deserialize("t", &[], bytes.as_ref()).unwrap();
        assert_eq!(back.0, map);

        let err = <DefaultSerde as Deserializer<Json<BTreeMap<String, i64>>>>::deserialize(
            &DefaultSerde,
            "t",
            &[],
            Some(&Bytes::from_static(b"{\"a\":")),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Serialization { .. }), "{err:?}");
        assert!(err.to_string().contains("not the JSON of"), "{err}");
        // serde_json's own error stays reachable.
        let source = std::error::Error::source(&err).expect("a source");
        assert!(source.downcast_ref::<serde_json::Error>().is_some());
        // A null value is no JSON document; Option<Json<T>> reads it as None.
        let none: Option<Json<i64>> = DefaultSerde.deserialize("t", &[], None).unwrap();
        assert_eq!(none, None);
        assert!(<DefaultSerde as Deserializer<Json<i64>>>::deserialize(
            &DefaultSerde,
            "t",
            &[],
            None
        )
        .is_err());
    }

    #[test]
    fn a_value_json_cannot_hold_is_a_serialization_error() {
        // JSON object keys must be strings; serde_json refuses a map keyed by tuples.
        let map = BTreeMap::from([((1, 2), "x")]);
        let err = DefaultSerde
            .serialize("t", &mut Vec::new(), Json(map))
            .unwrap_err();
        assert!(err.to_string().contains("cannot write"), "{err}");
        assert!(!err.is_retriable());
    }
}
