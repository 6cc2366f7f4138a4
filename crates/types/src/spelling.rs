//! What the server accepts for a string enum on input, for the OpenAPI document.
//!
//! Request types keep enum-valued fields as strings, so that an unknown value is a
//! `VALIDATION_ERROR` naming the field and the valid values. Their schemas are still real
//! enums: `#[schemars(with = "Option<Spelled<Severity>>")]` documents the field as the
//! `SeverityInput` component — the canonical spellings and the documented aliases as an `enum`,
//! and in its description what else the server accepts (any letter case). The server's parsers
//! are checked against these lists by a test of the server crate.

use std::borrow::Cow;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator};

/// How the server reads one string enum on input.
pub trait Spellings {
    /// The name of the input schema component (`…Input`).
    const NAME: &'static str;
    /// Whether any letter case is accepted (and surrounding whitespace ignored).
    const ANY_CASE: bool = true;
    /// The canonical spellings: what responses carry.
    fn canonical() -> Vec<&'static str>;
    /// Documented aliases accepted on input: `(alias, canonical)`.
    fn aliases() -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// What the values mean, if the description should say more than the accepted spellings.
    fn about() -> &'static str {
        ""
    }
}

/// The input schema of a string enum `T` (see the module documentation).
pub struct Spelled<T>(PhantomData<T>);

impl<T: Spellings> JsonSchema for Spelled<T> {
    fn schema_name() -> Cow<'static, str> {
        T::NAME.into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        Schema::try_from(spelled_schema::<T>()).expect("an object schema")
    }
}

/// The inline schema of [`Spelled<T>`] (for query parameters).
pub fn spelled_schema<T: Spellings>() -> serde_json::Value {
    {
        let mut values = T::canonical();
        values.extend(T::aliases().iter().map(|(alias, _)| *alias));
        let mut description = T::about().to_string();
        let mut add = |s: String| {
            if !description.is_empty() {
                description.push(' ');
            }
            description.push_str(&s);
        };
        if !T::aliases().is_empty() {
            let aliases: Vec<String> = T::aliases()
                .iter()
                .map(|(alias, canonical)| format!("`{alias}` for `{canonical}`"))
                .collect();
            add(format!(
                "Documented aliases, answered with the canonical name: {}.",
                aliases.join(", ")
            ));
        }
        if T::ANY_CASE {
            add("Accepted in any letter case (`high` for `High`).".into());
        } else {
            add("Case-sensitive.".into());
        }
        serde_json::json!({
            "type": "string",
            "enum": values,
            "description": description,
        })
    }
}

/// A set of spellings given as a list, for enums that are not Rust enums of this crate.
macro_rules! spellings {
    ($(#[$m:meta])* $name:ident = $component:literal, any_case: $any:literal, [$($value:literal),* $(,)?] $(, aliases: [$(($alias:literal, $canon:literal)),* $(,)?])? $(, about: $about:literal)?) => {
        $(#[$m])*
        pub struct $name;

        impl $name {
            pub const VALUES: &'static [&'static str] = &[$($value),*];
        }

        impl Spellings for $name {
            const NAME: &'static str = $component;
            const ANY_CASE: bool = $any;
            fn canonical() -> Vec<&'static str> {
                Self::VALUES.to_vec()
            }
            $(fn aliases() -> &'static [(&'static str, &'static str)] {
                &[$(($alias, $canon)),*]
            })?
            $(fn about() -> &'static str {
                $about
            })?
        }
    };
}

spellings! {
    /// API scopes (case-sensitive, as listed).
    ScopeName = "ScopeInput", any_case: false, [
        "incidents:read", "incidents:write", "incidents:comments", "incidents:ingest",
        "gamebooks:read", "gamebooks:manage", "datasources:read", "datasources:manage",
        "tickets:read", "tickets:manage", "investigation:read", "investigation:ingest",
        "webhooks:read", "webhooks:manage", "org:service-accounts:read",
        "org:service-accounts:manage", "org:users:read", "org:users:manage", "org:users:roles",
        "org:azure:read", "org:azure:manage", "org:workspaces:read", "org:workspaces:manage",
    ],
    about: "A `:manage` or `:write` scope implies the same resource's `:read`."
}

spellings! {
    /// Webhook event types, as subscribed to (`GET /webhooks/event-types`).
    EventTypeName = "EventTypeInput", any_case: true,
    ["incident.created", "incident.updated", "gamebook.completed", "ticket.linked"],
    aliases: [
        ("incident.created.v1", "incident.created"),
        ("incident.updated.v1", "incident.updated"),
        ("gamebook.completed.v1", "gamebook.completed"),
        ("ticket.linked.v1", "ticket.linked"),
    ]
}

spellings! {
    /// `timeFilterSelection.type` of `POST /incidents/across-workspaces`.
    ListingWindow = "ListingTimeFilterTypeInput", any_case: false,
    ["TwentyFourHours", "SevenDays", "ThirtyDays", "Custom"],
    about: "`Custom` takes `customStartUtc` and `customEndUtc`."
}

spellings! {
    /// `timeFilterSelection.type` of the anomaly report.
    AnomalyWindow = "AnomalyTimeFilterTypeInput", any_case: false,
    ["OneHour", "ThreeHours", "SixHours", "TwelveHours", "TwentyFourHours", "FourtyEightHours",
     "SevenDays", "ThirtyDays", "Custom"],
    about: "Default `TwentyFourHours`; `Custom` takes `customStartUtc` and `customEndUtc` (at most 31 days)."
}

spellings! {
    /// A playbook's `entityType`.
    PlaybookEntityType = "PlaybookEntityTypeInput", any_case: true,
    ["Incident", "User", "Account", "Host", "Ip", "File", "FileHash", "Process", "Url", "Mailbox",
     "MailMessage", "CloudApplication", "AzureResource", "Dns", "RegistryKey", "RegistryValue",
     "SecurityGroup", "Malware", "IoTDevice"],
    about: "`Incident` (default): once per incident; `User` (the `Account` entity kind) or an entity kind: once per entity of that kind."
}

spellings! {
    /// The method of a playbook's `HttpRequest`.
    HttpMethod = "HttpMethodInput", any_case: true, ["GET", "POST", "PUT", "PATCH", "DELETE"],
    about: "Default `POST`."
}

spellings! {
    /// A service ticket's priority.
    TicketPriority = "TicketPriorityInput", any_case: true, ["Critical", "High", "Medium", "Low"]
}

impl Spellings for crate::WorkspaceRole {
    const NAME: &'static str = "WorkspaceRoleInput";
    fn canonical() -> Vec<&'static str> {
        Self::ALL.iter().map(|r| r.as_str()).collect()
    }
    fn aliases() -> &'static [(&'static str, &'static str)] {
        &[("Analyst", "IncidentAnalyst")]
    }
}

impl Spellings for crate::OrgRole {
    const NAME: &'static str = "OrgRoleInput";
    fn canonical() -> Vec<&'static str> {
        Self::ALL.iter().map(|r| r.as_str()).collect()
    }
    fn aliases() -> &'static [(&'static str, &'static str)] {
        &[("OrganizationAdmin", "Admin")]
    }
}

impl Spellings for crate::webhooks::WebhookAuthType {
    const NAME: &'static str = "WebhookAuthTypeInput";
    fn canonical() -> Vec<&'static str> {
        Self::NAMES.to_vec()
    }
    fn aliases() -> &'static [(&'static str, &'static str)] {
        &[("BearerToken", "Bearer"), ("BasicAuth", "Basic")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::Severity;

    #[test]
    fn input_schemas_list_canonical_names_then_aliases_and_say_what_else_is_accepted() {
        let mut g = SchemaGenerator::default();
        let s = Spelled::<crate::WorkspaceRole>::json_schema(&mut g);
        let values = s.get("enum").unwrap().as_array().unwrap();
        assert_eq!(values.first().unwrap(), "WorkspaceReader");
        assert_eq!(values.last().unwrap(), "Analyst");
        let about = s.get("description").unwrap().as_str().unwrap();
        assert!(about.contains("`Analyst` for `IncidentAnalyst`"), "{about}");
        assert!(about.contains("any letter case"), "{about}");
        let s = Spelled::<Severity>::json_schema(&mut g);
        assert_eq!(
            s.get("enum").unwrap(),
            &serde_json::json!(["Informational", "Low", "Medium", "High"])
        );
        assert_eq!(Spelled::<Severity>::schema_name(), "SeverityInput");
        let s = Spelled::<ScopeName>::json_schema(&mut g);
        assert!(s
            .get("description")
            .unwrap()
            .as_str()
            .unwrap()
            .contains("Case-sensitive"));
    }
}
