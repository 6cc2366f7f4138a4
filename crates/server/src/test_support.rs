//! Unit-test support: real organizations in a fresh test database, for code bound to an
//! organization (sealed tokens, the incident cache). Ids come from the store that verifies
//! them, as in production.

use palisade_store::testing::TestDb;
use palisade_store::{OrgId, Store, WorkspaceId};

pub(crate) struct Orgs {
    pub ids: Vec<OrgId>,
    /// One workspace of each organization.
    pub workspaces: Vec<WorkspaceId>,
    store: Store,
    db: TestDb,
}

impl Orgs {
    /// An organization with a given id (fixtures sealed for a known organization), written to
    /// the test database directly and read back through the store, which verifies it.
    pub async fn with_id(&self, id: uuid::Uuid) -> OrgId {
        self.db
            .execute(&format!(
                "INSERT INTO organizations (id, name, own_account_id, created_at) \
                 VALUES ('{id}', 'Fixture', '{}', 0)",
                uuid::Uuid::new_v4()
            ))
            .await;
        self.store
            .system()
            .organization(id)
            .await
            .expect("read the organization")
            .expect("the organization exists")
            .id
    }
}

/// `n` organizations in a fresh database.
pub(crate) async fn orgs(n: usize) -> Orgs {
    let db = TestDb::new().await;
    let store = db.store().await;
    let (mut ids, mut workspaces) = (Vec::new(), Vec::new());
    for i in 0..n {
        let org = store
            .system()
            .create_organization(&format!("Org {i}"))
            .await
            .expect("create organization");
        let ws = store
            .tenant(&org.id)
            .create_workspace(org.own_account_id, "SOC", None)
            .await
            .expect("create workspace");
        ids.push(org.id);
        workspaces.push(ws.id);
    }
    Orgs {
        ids,
        workspaces,
        store,
        db,
    }
}
