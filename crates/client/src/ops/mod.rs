//! The operations: one declaration per route (method, path template, operation id, path
//! parameters, query, body, response) makes both the typed method on its resource handle and
//! its row in [`OPERATIONS`], so the two cannot disagree; `tests/openapi_drift.rs` compares
//! the rows with the server's OpenAPI document.

use bytes::Bytes;
use serde::Serialize;

use crate::Result;

/// How the success answer of an operation is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// JSON in the `{data, meta}` envelope; the method returns `data`.
    Data,
    /// JSON without the envelope (health, the OpenAPI documents).
    Json,
    /// Text (metrics, guides).
    Text,
    /// `202 Accepted`: the envelope's `data` if any.
    Accepted,
}

/// One operation of the API as the client calls it.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// The resource handle the method is on (`Incidents`) and the method's name.
    pub handle: &'static str,
    pub name: &'static str,
    /// The OpenAPI `operationId`.
    pub id: &'static str,
    pub method: &'static str,
    /// The path template, as the OpenAPI document spells it.
    pub path: &'static str,
    /// The method's path parameters, in template order.
    pub params: &'static [&'static str],
    /// The query parameters' names.
    pub query: &'static [&'static str],
    /// The request body's type, and whether the body is required.
    pub body: Option<&'static str>,
    pub body_required: bool,
    /// The response type (`data` of the envelope for [`Kind::Data`]).
    pub returns: &'static str,
    pub kind: Kind,
    /// Whether a 429/503 may be retried: `GET`, `PUT`, `DELETE`, and the `POST`s that only
    /// read or upsert by id (marked in the table).
    pub idempotent: bool,
}

/// Every operation of the client, in the order of the server's route table.
pub static OPERATIONS: std::sync::LazyLock<Vec<Operation>> = std::sync::LazyLock::new(|| {
    [
        System::OPERATIONS,
        ServiceAccounts::OPERATIONS,
        Users::OPERATIONS,
        Tenancy::OPERATIONS,
        Incidents::OPERATIONS,
        Datasources::OPERATIONS,
        Investigation::OPERATIONS,
        Webhooks::OPERATIONS,
        Gamebooks::OPERATIONS,
        Tickets::OPERATIONS,
        Azure::OPERATIONS,
        Audit::OPERATIONS,
    ]
    .concat()
});

pub(crate) const fn method_is_idempotent(method: &str) -> bool {
    !matches!(method.as_bytes(), [b'P', b'O', b'S', b'T'])
}

pub(crate) fn encode_body<B: Serialize + ?Sized>(body: &B) -> Result<Bytes> {
    serde_json::to_vec(body)
        .map(Bytes::from)
        .map_err(|e| crate::Error::Invalid(format!("body: {e}")))
}

macro_rules! none_or {
    () => {
        None
    };
    ($x:expr) => {
        Some($x)
    };
}

macro_rules! present {
    () => {
        false
    };
    ($b:ty) => {
        true
    };
}

macro_rules! flag {
    () => {
        false
    };
    (idempotent) => {
        true
    };
}

macro_rules! kind {
    () => {
        $crate::ops::Kind::Data
    };
    (json) => {
        $crate::ops::Kind::Json
    };
    (text) => {
        $crate::ops::Kind::Text
    };
    (accepted) => {
        $crate::ops::Kind::Accepted
    };
}

macro_rules! query_names {
    () => {
        &[]
    };
    ($q:ty) => {
        <$q as $crate::query::Query>::NAMES
    };
}

/// The row of one operation (used for the method's constant and the handle's table).
macro_rules! op_row {
    ($group:ident $name:ident $method:ident $path:literal $id:literal [$($flag:ident)?]
        [$($p:ident),*] [$($q:ty)?] [$($b:ty)?] [$($ob:ty)?] [$ret:ty] [$($kind:ident)?]) => {
        $crate::ops::Operation {
            handle: stringify!($group),
            name: stringify!($name),
            id: $id,
            method: stringify!($method),
            path: $path,
            params: &[$(stringify!($p)),*],
            query: query_names!($($q)?),
            body: none_or!($(stringify!($b))? $(stringify!($ob))?),
            body_required: present!($($b)?),
            returns: stringify!($ret),
            kind: kind!($($kind)?),
            idempotent: flag!($($flag)?) || $crate::ops::method_is_idempotent(stringify!($method)),
        }
    };
}

/// Declares a resource handle and its operations.
macro_rules! operations {
    ($(#[$gdoc:meta])* $group:ident {
        $(
            $(#[$doc:meta])*
            $name:ident: $method:ident $path:literal $id:literal $([$flag:ident])?
                ($($p:ident),*) $([query $q:ty])? $([body $b:ty])? $([optbody $ob:ty])?
                -> $ret:ty $([$kind:ident])?;
        )*
    }) => {
        $(#[$gdoc])*
        #[derive(Clone, Debug)]
        pub struct $group {
            pub(crate) c: $crate::Client,
        }

        impl $group {
            pub(crate) fn new(c: $crate::Client) -> Self {
                $group { c }
            }

            /// This handle's operations.
            pub const OPERATIONS: &'static [$crate::ops::Operation] = &[$(
                op_row!($group $name $method $path $id [$($flag)?] [$($p),*] [$($q)?] [$($b)?]
                    [$($ob)?] [$ret] [$($kind)?]),
            )*];

            $(
                $(#[$doc])*
                #[doc = concat!("\n\n`", stringify!($method), " ", $path, "` (`", $id, "`)")]
                #[allow(clippy::too_many_arguments)]
                pub async fn $name(
                    &self,
                    $($p: impl $crate::PathArg,)*
                    $(query: &$q,)?
                    $(body: &$b,)?
                    $(body: Option<&$ob>,)?
                ) -> $crate::Result<$ret> {
                    const OP: $crate::ops::Operation = op_row!($group $name $method $path $id
                        [$($flag)?] [$($p),*] [$($q)?] [$($b)?] [$($ob)?] [$ret] [$($kind)?]);
                    let path = $crate::transport::render_path(OP.path, &[$($p.path_arg()),*])?;
                    let encoded_query: Option<String> =
                        None $(.or($crate::query::encode::<$q>(query)?))?;
                    let encoded: Option<bytes::Bytes> = None
                        $(.or(Some($crate::ops::encode_body::<$b>(body)?)))?
                        $(.or(match body {
                            Some(b) => Some($crate::ops::encode_body::<$ob>(b)?),
                            None => None,
                        }))?;
                    self.c
                        .execute(&OP, $crate::transport::Call { path, query: encoded_query, body: encoded })
                        .await
                }
            )*
        }
    };
}

// After the macros: they are in scope in the table by textual order.
mod table;

pub use table::{
    Audit, Azure, Datasources, Gamebooks, Incidents, Investigation, ServiceAccounts, System,
    Tenancy, Tickets, Users, Webhooks,
};
