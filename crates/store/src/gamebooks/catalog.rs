//! The playbook catalogue of an organization.

use std::collections::HashMap;

use palisade_domain::{Error, Result};
use uuid::Uuid;

use super::{PlaybookFields, PlaybookRow, PLAYBOOK_COLS};
use crate::db::{now_micros, placeholders, sql, Params, MAX_PARAMS};
use crate::Tenant;

impl PlaybookFields {
    /// The fields as `create_playbook` and `update_playbook` bind them (`$3`…`$8`).
    fn params(&self) -> impl Params<'_> {
        (
            &self.name,
            &self.description,
            &self.entity_type,
            self.is_admin_required,
            &self.parameters,
            &self.action,
        )
    }
}

impl Tenant<'_> {
    pub async fn create_playbook(&self, f: &PlaybookFields) -> Result<PlaybookRow> {
        let id = Uuid::new_v4();
        sql(
            "INSERT INTO playbooks (id, organization_id, name, description, entity_type, \
             is_admin_required, parameters, action, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
            (id, self.org),
        )
        .params(f.params())
        .bind(now_micros())
        .execute(self.store.writer())
        .await?;
        self.get_playbook(id)
            .await?
            .ok_or_else(|| Error::Internal("playbook vanished".into()))
    }

    /// The catalogue, by name.
    pub async fn list_playbooks(&self) -> Result<Vec<PlaybookRow>> {
        sql(
            &format!(
                "SELECT {PLAYBOOK_COLS} FROM playbooks WHERE organization_id = $1 ORDER BY name, id"
            ),
            (self.org,),
        )
        .fetch_all(self.store.read())
        .await
    }

    pub async fn get_playbook(&self, id: Uuid) -> Result<Option<PlaybookRow>> {
        sql(
            &format!(
                "SELECT {PLAYBOOK_COLS} FROM playbooks WHERE organization_id = $1 AND id = $2"
            ),
            (self.org, id),
        )
        .fetch_optional(self.store.read())
        .await
    }

    pub async fn update_playbook(
        &self,
        id: Uuid,
        f: &PlaybookFields,
    ) -> Result<Option<PlaybookRow>> {
        let update = sql(
            "UPDATE playbooks SET name = $3, description = $4, entity_type = $5, is_admin_required = $6, \
             parameters = $7, action = $8, modified_at = $9 WHERE organization_id = $1 AND id = $2",
            (self.org, id),
        )
        .params(f.params());
        self.update_then(update, || self.get_playbook(id)).await
    }

    /// Deletes a playbook. Rules naming it are left alone (a run skips a playbook that no
    /// longer exists); runs keep their copy of it.
    pub async fn delete_playbook(&self, id: Uuid) -> Result<bool> {
        let deleted = sql(
            "DELETE FROM playbooks WHERE organization_id = $1 AND id = $2",
            (self.org, id),
        )
        .execute(self.store.writer())
        .await?;
        Ok(deleted > 0)
    }

    /// The organization's playbooks by id (unknown ids are left out).
    pub async fn playbooks_by_id(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, PlaybookRow>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(MAX_PARAMS - 1) {
            let text = format!(
                "SELECT {PLAYBOOK_COLS} FROM playbooks WHERE organization_id = $1 AND id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sql(&text, (self.org,));
            for id in chunk {
                q = q.bind(*id);
            }
            for p in q.fetch_all::<PlaybookRow, _>(self.store.read()).await? {
                out.insert(p.id, p);
            }
        }
        Ok(out)
    }
}
