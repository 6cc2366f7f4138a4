//! Request extractors that fail as ProblemDetails: JSON bodies (415 on a wrong content type;
//! 400 `BAD_REQUEST` on malformed JSON, data after the value, or a body that is not the JSON
//! object the route reads; 400 `VALIDATION_ERROR` naming the JSON path on a wrong type inside
//! it), and ids in paths (a malformed id is simply not found).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use palisade_domain::Error;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::error::ApiError;
use super::strict::{wants_object, Strict};

/// A JSON request body.
pub struct Json<T>(pub T);

/// A JSON request body that may be absent (an empty body means `T::default()`).
pub struct OptionalJson<T>(pub T);

fn is_json(req: &Request) -> bool {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(ct) = ct.to_str() else { return false };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Parses JSON; syntax errors and data after the value are `BAD_REQUEST`, shape errors are
/// `VALIDATION_ERROR` at the failing path. A struct reads only a JSON object, never an array
/// ([`Strict`]).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    // Tracking the path costs on every value (batch ingest parses megabytes), and it is only
    // needed to explain a failure: parse plainly, and again with tracking if that fails.
    let mut de = serde_json::Deserializer::from_slice(bytes);
    if let Ok(v) = T::deserialize(Strict(&mut de)) {
        if de.end().is_ok() {
            return Ok(v);
        }
    }
    // A body that is not one JSON value (bad syntax, data after the value) is the wrong
    // shape as a whole, whatever its fields hold.
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        return Err(not_json(e));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize::<_, T>(Strict(&mut de));
    match parsed {
        Ok(v) => de.end().map(|()| v).map_err(not_json),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            match inner.classify() {
                serde_json::error::Category::Data => {
                    // A refused unknown field's path is the field's own.
                    let key = if path == "." { String::new() } else { path };
                    // Strip serde's position suffix; keep the message short (long enough
                    // for the known fields an unknown field's message lists).
                    let msg = inner.to_string();
                    let msg = msg.split(" at line ").next().unwrap_or(&msg);
                    let msg: String = msg.chars().take(600).collect();
                    Err(Error::field(&key, msg))
                }
                _ => Err(not_json(inner)),
            }
        }
    }
}

fn not_json(e: serde_json::Error) -> Error {
    Error::BadRequest(format!(
        "The request body is not valid JSON: {}",
        e.to_string().chars().take(200).collect::<String>()
    ))
}

/// A body for a `T` that reads a JSON object must be one: another JSON type at the root is the
/// wrong shape as a whole (`BAD_REQUEST`), not a failure of some field.
///
/// No route reads a bare string, number, boolean or `null`: such a root is refused for every
/// body type, including those that read an object or a list (the batch ingest body).
fn require_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<(), Error> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') && (wants_object::<T>() || first != Some(&b'[')) {
        return Err(Error::BadRequest(
            "The request body must be a JSON object.".into(),
        ));
    }
    Ok(())
}

/// Like [`parse_json`], from an already parsed JSON value (items of a batch).
pub fn from_value<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, Error> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        let key = if path == "." { String::new() } else { path };
        let msg = e.into_inner().to_string();
        let msg: String = msg.chars().take(300).collect();
        Error::field(&key, msg)
    })
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Response> {
    Bytes::from_request(req, state)
        .await
        .map_err(IntoResponse::into_response)
}

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(unsupported_media_type());
        }
        let bytes = body_bytes(req, state).await?;
        if bytes.is_empty() {
            return Err(
                ApiError(Error::BadRequest("A JSON request body is required.".into()))
                    .into_response(),
            );
        }
        require_object::<T>(&bytes)
            .and_then(|()| parse_json(&bytes))
            .map(Json)
            .map_err(|e| ApiError(e).into_response())
    }
}

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(&req);
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if !json {
            return Err(unsupported_media_type());
        }
        require_object::<T>(&bytes)
            .and_then(|()| parse_json(&bytes))
            .map(OptionalJson)
            .map_err(|e| ApiError(e).into_response())
    }
}

fn unsupported_media_type() -> Response {
    axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response()
}

/// Parses an id from a path segment; anything that is not a GUID names no resource.
pub fn path_id(kind: &str, raw: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw).map_err(|_| {
        let shown: String = raw.chars().take(64).collect();
        Error::not_found(kind, shown)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        name: Option<String>,
        items: Option<Vec<Item>>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Item {
        n: Option<u32>,
    }

    #[test]
    fn syntax_errors_are_bad_request_and_type_errors_name_the_path() {
        assert!(matches!(
            parse_json::<Body>(b"{"),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            parse_json::<Body>(&[0xff, 0xfe]),
            Err(Error::BadRequest(_))
        ));
        let Err(Error::Validation(m)) = parse_json::<Body>(br#"{"items":[{"n":"x"}]}"#) else {
            panic!()
        };
        assert!(m.contains_key("items[0].n"), "{m:?}");
        let Err(Error::Validation(m)) = parse_json::<Body>(br#""a string""#) else {
            panic!()
        };
        assert!(m.contains_key(""), "{m:?}");
        // Data after the value is not JSON; an array is not an object.
        assert!(matches!(
            parse_json::<Body>(br#"{"name":"x"} xx"#),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            parse_json::<Body>(br#"{"name":"x"} {}"#),
            Err(Error::BadRequest(_))
        ));
        assert!(parse_json::<Body>(b" {\"name\":\"x\"} \n").is_ok());
        let Err(Error::Validation(m)) = parse_json::<Body>(br#"{"items":[["n"]]}"#) else {
            panic!()
        };
        assert!(m.contains_key("items[0]"), "{m:?}");
        let deep = "[".repeat(10_000);
        assert!(parse_json::<serde_json::Value>(deep.as_bytes()).is_err());
    }
}
