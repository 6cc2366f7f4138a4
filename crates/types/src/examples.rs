//! Example documents of the wire types, one JSON file per type in `examples/` (responses taken
//! from a real server, requests written to pass its validation). They are shown in the OpenAPI
//! document (`#[schemars(example = example!("Name"))]`); a test of the server crate reads each
//! one back into its type.

/// The example document `examples/{name}.json`.
macro_rules! example {
    ($name:literal) => {
        $crate::examples::parse(include_str!(concat!("examples/", $name, ".json")))
    };
}
pub(crate) use example;

pub(crate) fn parse(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("an example is JSON")
}
