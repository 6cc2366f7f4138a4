//! Gamebook rules of a workspace.

use palisade_domain::{Error, Result};
use uuid::Uuid;

use super::{RuleFields, RuleRow, RULE_COLS};
use crate::db::{now_micros, sql, Params};
use crate::{Tenant, WorkspaceId};

fn list_json<T: serde::Serialize>(list: &[T]) -> String {
    serde_json::to_string(list).expect("a list of strings or ids serializes")
}

impl RuleFields {
    /// The fields as `create_rule` and `update_rule` bind them (`$4`…`$11`).
    fn params(&self) -> impl Params<'_> {
        (
            &self.title,
            &self.match_type,
            &self.pattern,
            list_json(&self.severities),
            list_json(&self.sources),
            list_json(&self.playbook_ids),
            self.is_auto_run,
            self.is_enabled,
        )
    }
}

impl Tenant<'_> {
    pub async fn create_rule(&self, ws: &WorkspaceId, f: &RuleFields) -> Result<RuleRow> {
        let id = Uuid::new_v4();
        sql(
            "INSERT INTO gamebook_rules (id, organization_id, workspace_id, title, match_type, pattern, \
             severities, sources, playbook_ids, is_auto_run, is_enabled, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
            (id, self.org, self.own(ws)?),
        )
        .params(f.params())
        .bind(now_micros())
        .execute(self.store.writer())
        .await?;
        self.get_rule(ws, id)
            .await?
            .ok_or_else(|| Error::Internal("rule vanished".into()))
    }

    /// A workspace's rules, oldest first.
    pub async fn list_rules(&self, ws: &WorkspaceId) -> Result<Vec<RuleRow>> {
        sql(
            &format!(
                "SELECT {RULE_COLS} FROM gamebook_rules WHERE organization_id = $1 AND workspace_id = $2 \
                 ORDER BY created_at, id"
            ),
            (self.org, self.own(ws)?),
        )
        .fetch_all(self.store.read())
        .await
    }

    pub async fn get_rule(&self, ws: &WorkspaceId, id: Uuid) -> Result<Option<RuleRow>> {
        sql(
            &format!(
                "SELECT {RULE_COLS} FROM gamebook_rules WHERE organization_id = $1 AND workspace_id = $2 \
                 AND id = $3"
            ),
            (self.org, self.own(ws)?, id),
        )
        .fetch_optional(self.store.read())
        .await
    }

    pub async fn update_rule(
        &self,
        ws: &WorkspaceId,
        id: Uuid,
        f: &RuleFields,
    ) -> Result<Option<RuleRow>> {
        let update = sql(
            "UPDATE gamebook_rules SET title = $4, match_type = $5, pattern = $6, severities = $7, \
             sources = $8, playbook_ids = $9, is_auto_run = $10, is_enabled = $11, modified_at = $12 \
             WHERE organization_id = $1 AND workspace_id = $2 AND id = $3",
            (self.org, self.own(ws)?, id),
        )
        .params(f.params());
        self.update_then(update, || self.get_rule(ws, id)).await
    }

    pub async fn delete_rule(&self, ws: &WorkspaceId, id: Uuid) -> Result<bool> {
        let deleted = sql(
            "DELETE FROM gamebook_rules WHERE organization_id = $1 AND workspace_id = $2 AND id = $3",
            (self.org, self.own(ws)?, id),
        )
        .execute(self.store.writer())
        .await?;
        Ok(deleted > 0)
    }
}
