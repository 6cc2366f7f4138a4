//! Query parameters of the operations that take them, spelled as the server reads them.
//! Each type lists its parameter names ([`Query::NAMES`]); the OpenAPI drift test compares
//! them with the document's.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// A set of query parameters.
pub trait Query: Serialize {
    /// The parameter names, as sent.
    const NAMES: &'static [&'static str];
}

macro_rules! query {
    ($(
        $(#[$doc:meta])*
        $name:ident {
            $( $(#[$fdoc:meta])* $wire:literal $field:ident : $kind:ident $ty:ty ),* $(,)?
        }
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Default, Serialize)]
        pub struct $name {
            $(
                $(#[$fdoc])*
                #[serde(rename = $wire, skip_serializing_if = "Skip::skip")]
                pub $field: query!(@ty $kind $ty),
            )*
        }
        impl Query for $name {
            const NAMES: &'static [&'static str] = &[$($wire),*];
        }
    )*};
    (@ty req $ty:ty) => { $ty };
    (@ty opt $ty:ty) => { Option<$ty> };
}

query! {
    /// `GET /azure-resources/subscriptions/is-owner`.
    IsOwnerQuery { "subscriptionId" subscription_id: req Uuid }
    /// `PUT /azure-resources/analytical-rules/{ruleId}`.
    RuleEnabledQuery { "enabled" enabled: req bool }
    /// `GET …/datasources/{id}/volume`.
    VolumeQuery {
        "from" from: opt DateTime<Utc>,
        "to" to: opt DateTime<Utc>,
    }
    /// `GET /datasources/across-workspaces`.
    WorkspaceIdsQuery {
        /// Comma-separated workspace GUIDs; absent means every visible workspace.
        "workspaceIds" workspace_ids: opt String,
    }
    /// `GET …/gamebooks/history` (paged by `pageToken`).
    GamebookHistoryQuery {
        "query" query: opt String,
        "pageToken" page_token: opt String,
    }
    /// `GET …/gamebooks/history/{gamebookId}/playbooks`.
    RunPlaybooksQuery {
        "year" year: opt i32,
        "tenantId" tenant_id: opt String,
    }
    /// `GET /gamebooks/across-workspaces/history` (paged by page number).
    GamebookPageQuery {
        /// From 1.
        "currentPage" current_page: req i64,
        "pageSize" page_size: opt i64,
        /// Comma-separated workspace GUIDs.
        "workspaces" workspaces: opt String,
        /// Comma-separated statuses.
        "statuses" statuses: opt String,
        "query" query: opt String,
    }
    /// `GET …/incidents/{source}/{incidentId}`.
    DetailQuery { "withDetails" with_details: opt bool }
    /// `POST …/incidents/{source}/ingest`: `format=native` takes the source's own JSON.
    IngestQuery { "format" format: opt String }
    /// `GET …/incidents/{source}/by-entity`.
    ByEntityQuery {
        "EntityKind" entity_kind: req String,
        "EntityFilter" entity_filter: req String,
        "EntityName" entity_name: opt String,
        "TimeFilteringType" time_filtering_type: opt String,
        "StartDate" start_date: opt DateTime<Utc>,
        "EndDate" end_date: opt DateTime<Utc>,
        "IncidentId" incident_id: opt String,
    }
    /// Sign-in and directory logs (paged by `NextPageLink`).
    LogQuery {
        "UserId" user_id: req String,
        "TimeFilteringType" time_filtering_type: req String,
        "StartDate" start_date: opt DateTime<Utc>,
        "EndDate" end_date: opt DateTime<Utc>,
        "NextPageLink" next_page_link: opt String,
        "EntityName" entity_name: opt String,
        "ResourceId" resource_id: opt String,
        "ResourceName" resource_name: opt String,
    }
    /// `GET …/investigation/audit` (paged by `continuationToken`).
    AuditQuery {
        "pageSize" page_size: opt u32,
        "continuationToken" continuation_token: opt String,
    }
    /// `GET /audit-log` (paged by `continuationToken`).
    AuditLogQuery {
        /// 1 to 200 (default 50).
        "pageSize" page_size: opt u32,
        "continuationToken" continuation_token: opt String,
        "actorId" actor_id: opt Uuid,
        "since" since: opt DateTime<Utc>,
    }
    /// `GET /webhooks/{id}/delivery-logs` (paged by `continuationToken`).
    DeliveryLogQuery {
        /// 1 to 100.
        "pageSize" page_size: req u32,
        "from" from: opt DateTime<Utc>,
        "to" to: opt DateTime<Utc>,
        "continuationToken" continuation_token: opt String,
    }
    /// A delivery log's partition key (`createdAt` of the log).
    CreatedAtQuery { "createdAt" created_at: req DateTime<Utc> }
    /// `GET …/tickets/search`.
    TicketSearchQuery {
        "groupingId" grouping_id: opt String,
        "ticketNumber" ticket_number: opt String,
    }
}

/// Whether a parameter is left out: an absent optional one.
trait Skip {
    fn skip(&self) -> bool {
        false
    }
}
impl<T> Skip for Option<T> {
    fn skip(&self) -> bool {
        self.is_none()
    }
}
impl Skip for Uuid {}
impl Skip for bool {}
impl Skip for String {}
impl Skip for i64 {}
impl Skip for u32 {}
impl Skip for DateTime<Utc> {}

/// Encodes a query (`None` when it has no parameter set).
pub(crate) fn encode<Q: Query>(q: &Q) -> crate::Result<Option<String>> {
    let s =
        serde_urlencoded::to_string(q).map_err(|e| crate::Error::Invalid(format!("query: {e}")))?;
    Ok((!s.is_empty()).then_some(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_parameters_are_left_out_and_names_are_the_wire_names() {
        let q = ByEntityQuery {
            entity_kind: "Ip".into(),
            entity_filter: "10.0.0.1".into(),
            ..Default::default()
        };
        assert_eq!(
            encode(&q).unwrap().unwrap(),
            "EntityKind=Ip&EntityFilter=10.0.0.1"
        );
        assert_eq!(encode(&AuditQuery::default()).unwrap(), None);
        assert_eq!(DeliveryLogQuery::NAMES[3], "continuationToken");
    }
}
