//! Typed row mapping. Row types derive `sqlx::FromRow`; a column whose Rust type is not one
//! sqlx's `Any` driver decodes by itself names its storage form with
//! `#[sqlx(try_from = "…")]`, one of the wrappers below, and converts from it:
//!
//! | storage                 | wrapper      | Rust types                                      |
//! |-------------------------|--------------|-------------------------------------------------|
//! | TEXT id                 | `String`     | `Uuid` (uuid's own `TryFrom<String>`)           |
//! | nullable TEXT           | `NullText`   | `Option<Uuid>`, `String` (empty when NULL)      |
//! | BIGINT 0/1              | `Flag`       | `bool`                                          |
//! | BIGINT microseconds     | `Micros`     | `DateTime<Utc>`                                 |
//! | nullable microseconds   | `NullMicros` | `Option<DateTime<Utc>>`                         |
//! | TEXT vocabulary         | `Vocab`      | `IncidentSource`, `Severity`, roles, …          |
//! | TEXT JSON               | `JsonText`   | lists (`Vec<String>`, `Vec<Uuid>`, scopes), documents |
//!
//! `String`, `i64` and their `Option`s need no attribute.

use chrono::{DateTime, Utc};
use palisade_domain::incident::IncidentDoc;
use palisade_domain::vocab::{IncidentSource, IncidentStatus, OrgRole, Severity, WorkspaceRole};
use palisade_domain::Scope;
use sqlx::any::{AnyTypeInfo, AnyValueRef};
use sqlx::error::BoxDynError;
use sqlx::{Any, Decode, Type};
use uuid::Uuid;

/// A stored value that does not mean what the store wrote (a corrupt row).
#[derive(Debug)]
pub(crate) struct Corrupt(pub(crate) String);

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Corrupt {}

macro_rules! column {
    ($(#[$m:meta])* $name:ident($inner:ty)) => {
        $(#[$m])*
        pub(crate) struct $name(pub(crate) $inner);

        impl Type<Any> for $name {
            fn type_info() -> AnyTypeInfo {
                <$inner as Type<Any>>::type_info()
            }

            fn compatible(ty: &AnyTypeInfo) -> bool {
                <$inner as Type<Any>>::compatible(ty)
            }
        }

        impl<'r> Decode<'r, Any> for $name {
            fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
                <$inner as Decode<'r, Any>>::decode(value).map($name)
            }
        }
    };
}

column!(
    /// A BIGINT 0/1 boolean.
    Flag(i64)
);
column!(
    /// An instant: BIGINT microseconds since the epoch.
    Micros(i64)
);
column!(
    /// A nullable instant.
    NullMicros(Option<i64>)
);
column!(
    /// Nullable TEXT.
    NullText(Option<String>)
);
column!(
    /// A vocabulary value in its wire spelling.
    Vocab(String)
);
column!(
    /// JSON text.
    JsonText(String)
);

impl From<Flag> for bool {
    fn from(v: Flag) -> bool {
        v.0 != 0
    }
}

impl From<Micros> for DateTime<Utc> {
    fn from(v: Micros) -> Self {
        palisade_domain::time::from_micros(v.0)
    }
}

impl From<NullMicros> for Option<DateTime<Utc>> {
    fn from(v: NullMicros) -> Self {
        v.0.map(palisade_domain::time::from_micros)
    }
}

/// A nullable id; an unreadable one reads as absent.
impl From<NullText> for Option<Uuid> {
    fn from(v: NullText) -> Self {
        v.0.and_then(|s| s.parse().ok())
    }
}

/// Text that may be NULL (an outer join's missing side) read as empty.
impl From<NullText> for String {
    fn from(v: NullText) -> Self {
        v.0.unwrap_or_default()
    }
}

macro_rules! strict_vocab {
    ($($t:ident),*) => {$(
        impl TryFrom<Vocab> for $t {
            type Error = Corrupt;

            fn try_from(v: Vocab) -> Result<Self, Corrupt> {
                $t::parse(&v.0).ok_or_else(|| {
                    Corrupt(format!(concat!("unknown stored ", stringify!($t), " {}"), v.0))
                })
            }
        }
    )*};
}
strict_vocab!(IncidentSource, Severity, IncidentStatus);

/// A role the store did not write reads as the least privileged one.
impl From<Vocab> for OrgRole {
    fn from(v: Vocab) -> Self {
        OrgRole::parse(&v.0).unwrap_or(OrgRole::Member)
    }
}

impl From<Vocab> for WorkspaceRole {
    fn from(v: Vocab) -> Self {
        WorkspaceRole::parse(&v.0).unwrap_or(WorkspaceRole::WorkspaceReader)
    }
}

/// A JSON list of strings (empty when unreadable).
impl From<JsonText> for Vec<String> {
    fn from(v: JsonText) -> Self {
        serde_json::from_str(&v.0).unwrap_or_default()
    }
}

/// A JSON list of ids (unreadable entries left out).
impl From<JsonText> for Vec<Uuid> {
    fn from(v: JsonText) -> Self {
        Vec::<String>::from(v)
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect()
    }
}

/// A JSON list of scope names (unknown ones left out).
impl From<JsonText> for Vec<Scope> {
    fn from(v: JsonText) -> Self {
        Vec::<String>::from(v)
            .iter()
            .filter_map(|s| Scope::parse(s))
            .collect()
    }
}

/// JSON documents the store wrote whole; one that does not parse is corrupt.
macro_rules! json_document {
    ($($t:ty),*) => {$(
        impl TryFrom<$crate::db::row::JsonText> for $t {
            type Error = $crate::db::row::Corrupt;

            fn try_from(v: $crate::db::row::JsonText) -> Result<Self, $crate::db::row::Corrupt> {
                serde_json::from_str(&v.0).map_err(|e| {
                    $crate::db::row::Corrupt(format!(
                        concat!("corrupt stored ", stringify!($t), ": {}"),
                        e
                    ))
                })
            }
        }
    )*};
}
json_document!(IncidentDoc, serde_json::Value);
pub(crate) use json_document;
