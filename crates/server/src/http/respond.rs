//! Success responses in the standard envelope `{data, meta: {requestId, timestamp}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use palisade_types::{Envelope, Meta};
use serde::Serialize;

use super::context::request_id;

/// `200 OK` with `data` in the envelope.
pub struct Data<T>(pub T);

/// Already rendered JSON (e.g. a cached document), placed in the envelope as is.
pub struct RawJson(pub std::sync::Arc<serde_json::value::RawValue>);

impl Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// `201 Created` with `data` in the envelope.
pub struct Created<T>(pub T);

fn envelope<T: Serialize>(status: StatusCode, data: &T) -> Response {
    let body = Envelope {
        data,
        meta: Meta {
            request_id: request_id(),
            timestamp: palisade_domain::time::envelope_timestamp(chrono::Utc::now()),
        },
    };
    match serde_json::to_vec(&body) {
        Ok(bytes) => {
            let mut r = (status, bytes).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            r
        }
        Err(e) => super::error::ApiError(palisade_domain::Error::internal(e)).into_response(),
    }
}

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        envelope(StatusCode::OK, &self.0)
    }
}

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        envelope(StatusCode::CREATED, &self.0)
    }
}

/// `202 Accepted` with `data` in the envelope (work queued).
pub struct Accepted<T>(pub T);

impl<T: Serialize> IntoResponse for Accepted<T> {
    fn into_response(self) -> Response {
        envelope(StatusCode::ACCEPTED, &self.0)
    }
}
