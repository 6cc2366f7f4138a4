//! Webhook configurations: create, read, change, secrets, status transitions, delete.

use palisade_domain::{Error, Result};
use uuid::Uuid;

use super::{WebhookFields, WebhookRow, WebhookSecrets, WEBHOOK_COLUMNS, WEBHOOK_FROM};
use crate::db::{now_micros, sql, Params};
use crate::Tenant;

fn strings_json(list: &[String]) -> String {
    serde_json::to_string(list).expect("a list of strings serializes")
}

fn ids_json(ids: &[Uuid]) -> String {
    serde_json::to_string(&ids.iter().map(|u| u.to_string()).collect::<Vec<_>>())
        .expect("a list of strings serializes")
}

impl WebhookFields {
    /// The fields as `create_webhook` and `update_webhook` bind them (`$3`…`$8`), with the
    /// workspace checked to be the organization's.
    fn params(&self, workspace: Option<Uuid>) -> impl Params<'_> {
        (
            self.target_account_id,
            workspace,
            &self.name,
            &self.url,
            strings_json(&self.event_types),
            ids_json(&self.monitored_account_ids),
        )
    }
}

impl WebhookSecrets {
    /// The secrets as `create_webhook` and `set_webhook_secrets` bind them.
    fn params(&self) -> impl Params<'_> {
        (
            &self.authentication_type,
            &self.api_key_header,
            &self.sealed_credentials,
            &self.sealed_signing_secret,
        )
    }
}

impl Tenant<'_> {
    /// The target account and the workspace of `fields`, checked to be this organization's.
    async fn check_fields(&self, fields: &WebhookFields) -> Result<Option<Uuid>> {
        if self.get_account(fields.target_account_id).await?.is_none() {
            return Err(Error::field(
                "targetAccountId",
                format!(
                    "Account {} is not an account of this organization.",
                    fields.target_account_id
                ),
            ));
        }
        fields
            .workspace_id
            .as_ref()
            .map(|w| self.own(w))
            .transpose()
    }

    pub async fn create_webhook(
        &self,
        fields: &WebhookFields,
        secrets: &WebhookSecrets,
    ) -> Result<WebhookRow> {
        let workspace = self.check_fields(fields).await?;
        let id = Uuid::new_v4();
        sql(
            "INSERT INTO webhooks (id, organization_id, target_account_id, workspace_id, name, url, \
             status, event_types, monitored_account_ids, authentication_type, api_key_header, \
             sealed_credentials, sealed_signing_secret, consecutive_failures, created_at, \
             last_modified_at) VALUES ($1, $2, $3, $4, $5, $6, 'Active', $7, $8, $9, $10, $11, $12, 0, $13, $13)",
            (id, self.org),
        )
        .params(fields.params(workspace))
        .params(secrets.params())
        .bind(now_micros())
        .execute(self.store.writer())
        .await?;
        self.get_webhook(id)
            .await?
            .ok_or_else(|| Error::Internal("webhook vanished".into()))
    }

    pub async fn list_webhooks(&self) -> Result<Vec<WebhookRow>> {
        sql(
            &format!(
                "SELECT {WEBHOOK_COLUMNS} FROM {WEBHOOK_FROM} WHERE w.organization_id = $1 \
                 ORDER BY w.created_at, w.id"
            ),
            (self.org,),
        )
        .fetch_all(self.store.read())
        .await
    }

    pub async fn get_webhook(&self, id: Uuid) -> Result<Option<WebhookRow>> {
        sql(
            &format!(
                "SELECT {WEBHOOK_COLUMNS} FROM {WEBHOOK_FROM} WHERE w.organization_id = $1 AND w.id = $2"
            ),
            (self.org, id),
        )
        .fetch_optional(self.store.read())
        .await
    }

    pub async fn update_webhook(
        &self,
        id: Uuid,
        fields: &WebhookFields,
    ) -> Result<Option<WebhookRow>> {
        let workspace = self.check_fields(fields).await?;
        let update = sql(
            "UPDATE webhooks SET target_account_id = $3, workspace_id = $4, name = $5, url = $6, \
             event_types = $7, monitored_account_ids = $8, last_modified_at = $9 \
             WHERE organization_id = $1 AND id = $2",
            (self.org, id),
        )
        .params(fields.params(workspace));
        self.update_then(update, || self.get_webhook(id)).await
    }

    pub async fn set_webhook_secrets(
        &self,
        id: Uuid,
        secrets: &WebhookSecrets,
    ) -> Result<Option<WebhookRow>> {
        let update = sql(
            "UPDATE webhooks SET authentication_type = $3, api_key_header = $4, sealed_credentials = $5, \
             sealed_signing_secret = $6, last_modified_at = $7 WHERE organization_id = $1 AND id = $2",
            (self.org, id),
        )
        .params(secrets.params());
        self.update_then(update, || self.get_webhook(id)).await
    }

    /// Moves a webhook from `from` to `to`. `Ok(None)`: no such webhook; `Ok(Some(false))`:
    /// it is not in `from`. Leaving `Disabled` resets the failure run; entering it records
    /// `reason`.
    pub async fn transition_webhook(
        &self,
        id: Uuid,
        from: &str,
        to: &str,
        reason: Option<&str>,
    ) -> Result<Option<bool>> {
        let now = now_micros();
        let moved = sql(
            "UPDATE webhooks SET status = $4, last_modified_at = $5, consecutive_failures = 0, \
             disable_reason = $6, disabled_at = CASE WHEN $4 = 'Disabled' THEN $5 ELSE NULL END \
             WHERE organization_id = $1 AND id = $2 AND status = $3",
            (self.org, id, from, to, now, reason),
        )
        .execute(self.store.writer())
        .await?;
        if moved > 0 {
            if from == "Disabled" {
                // Re-enabled: what was waiting for a retry is due at once.
                sql(
                    "UPDATE jobs SET run_at = $3 WHERE kind = $4 AND organization_id = $1 \
                     AND job_key = $2 AND state = 'queued' AND run_at > $3 \
                     AND (lease_until IS NULL OR lease_until < $3)",
                    (self.org, id.to_string(), now, crate::DELIVERY_KIND),
                )
                .execute(self.store.writer())
                .await?;
            }
            return Ok(Some(true));
        }
        Ok(self.get_webhook(id).await?.map(|_| false))
    }

    pub async fn delete_webhook(&self, id: Uuid) -> Result<bool> {
        self.delete_owned(
            id,
            &[
                "DELETE FROM jobs WHERE kind = 'webhook.delivery' AND organization_id = $1 AND job_key = $2",
                "DELETE FROM webhook_deliveries WHERE organization_id = $1 AND webhook_id = $2",
                "DELETE FROM webhooks WHERE organization_id = $1 AND id = $2",
            ],
        )
        .await
    }
}
