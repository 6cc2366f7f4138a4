//! The fake vendor servers (Microsoft Entra ID, Sentinel on Resource Manager, Graph security)
//! live in `palisade-fakes`, where `palisade demo` can use them too; tests reach them here.

pub use palisade_fakes::*;
