//! The SQL of [`WebhookStore`](super::store::WebhookStore), written once for PostgreSQL and
//! SQLite: `store/postgres.rs` and `store/sqlite.rs` each invoke `webhooks_sql!` after
//! `sql_common!`, whose dialect shim, row mappers (`webhook_from_row`), transaction and
//! delivery insert the statements use (see `store/sql.rs`).

/// Implements [`WebhookStore`](super::store::WebhookStore) for `$store`, in a module where
/// `sql_common!` (`store/sql.rs`) was invoked for it.
macro_rules! webhooks_sql {
    ($store:ty) => {
        fn delivery_from_row(row: &DbRow) -> Result<WebhookDeliveryRecord> {
            let status: String = row.try_get("status")?;
            Ok(WebhookDeliveryRecord {
                id: row.try_get("id")?,
                endpoint_id: row.try_get("endpoint_id")?,
                event_id: row.try_get("event_id")?,
                event_type: row.try_get("event_type")?,
                payload: row.try_get("payload")?,
                status: DeliveryStatus::parse(&status)
                    .ok_or_else(|| Error::internal(format!("unknown delivery status {status}")))?,
                attempts: u32::try_from(row.try_get::<i32, _>("attempts")?).unwrap_or_default(),
                next_attempt_at: from_ts(row.try_get("next_attempt_at")?)?,
                last_status_code: row
                    .try_get::<Option<i32>, _>("last_status_code")?
                    .and_then(|code| u16::try_from(code).ok()),
                last_error: row.try_get("last_error")?,
                created_at: from_ts(row.try_get("created_at")?)?,
                delivered_at: opt_from_ts(row.try_get("delivered_at")?)?,
            })
        }

        async fn webhook_by_id<'e, E>(executor: E, id: Uuid) -> Result<Option<WebhookEndpointRecord>>
        where
            E: sqlx::Executor<'e, Database = Db>,
        {
            query(concat!(
                "SELECT ",
                webhook_columns!(),
                " FROM webhook_endpoints WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(executor)
            .await?
            .as_ref()
            .map(webhook_from_row)
            .transpose()
        }

        fn events_json(events: &[String]) -> Result<String> {
            serde_json::to_string(events).map_err(Error::internal)
        }

        #[async_trait::async_trait]
        impl $crate::webhooks::store::WebhookStore for $store {
            async fn create_webhook(
                &self,
                w: WebhookEndpointRecord,
                effects: Effects,
            ) -> Result<()> {
                let mut tx = begin(self).await?;
                query(
                    "INSERT INTO webhook_endpoints (id, url, events, description, enabled, \
                     sealed_secret, sealed_previous_secret, previous_secret_until, \
                     failing_since, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(w.id)
                .bind(&w.url)
                .bind(events_json(&w.events)?)
                .bind(&w.description)
                .bind(w.enabled)
                .bind(&w.sealed_secret)
                .bind(&w.sealed_previous_secret)
                .bind(opt_ts(w.previous_secret_until))
                .bind(opt_ts(w.failing_since))
                .bind(ts(w.created_at))
                .bind(ts(w.updated_at))
                .execute(&mut *tx)
                .await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn webhooks(&self) -> Result<Vec<WebhookEndpointRecord>> {
                query(concat!(
                    "SELECT ",
                    webhook_columns!(),
                    " FROM webhook_endpoints ORDER BY created_at, id"
                ))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(webhook_from_row)
                .collect()
            }

            async fn webhook(&self, id: Uuid) -> Result<Option<WebhookEndpointRecord>> {
                webhook_by_id(&self.pool, id).await
            }

            async fn update_webhook(
                &self,
                id: Uuid,
                change: $crate::webhooks::store::WebhookChange,
                now: Timestamp,
                effects: Effects,
            ) -> Result<Option<WebhookEndpointRecord>> {
                let mut tx = begin(self).await?;
                let events = change.events.as_deref().map(events_json).transpose()?;
                let done = query(
                    "UPDATE webhook_endpoints SET url = COALESCE($1, url), \
                     events = COALESCE($2, events), \
                     description = CASE WHEN $3 THEN $4 ELSE description END, \
                     enabled = COALESCE($5, enabled), \
                     failing_since = CASE WHEN $6 THEN NULL ELSE failing_since END, \
                     updated_at = $7 WHERE id = $8",
                )
                .bind(change.url)
                .bind(events)
                .bind(change.description.is_some())
                .bind(change.description.flatten())
                .bind(change.enabled)
                .bind(change.enabled == Some(true))
                .bind(ts(now))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                let updated = webhook_by_id(&mut *tx, id).await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(updated)
            }

            async fn delete_webhook(&self, id: Uuid, effects: Effects) -> Result<bool> {
                let mut tx = begin(self).await?;
                // Its deliveries go with it (`ON DELETE CASCADE`).
                let done = query("DELETE FROM webhook_endpoints WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                commit_if_changed(tx, done.rows_affected(), effects).await
            }

            async fn rotate_webhook_secret(
                &self,
                id: Uuid,
                replacing: Option<&[u8]>,
                sealed_secret: Vec<u8>,
                previous_until: Timestamp,
                now: Timestamp,
                effects: Effects,
            ) -> Result<Option<WebhookEndpointRecord>> {
                let mut tx = begin(self).await?;
                let done = query(
                    "UPDATE webhook_endpoints SET sealed_previous_secret = sealed_secret, \
                     sealed_secret = $1, previous_secret_until = $2, updated_at = $3 \
                     WHERE id = $4 AND ($5 IS NULL OR sealed_secret = $5)",
                )
                .bind(sealed_secret)
                .bind(ts(previous_until))
                .bind(ts(now))
                .bind(id)
                .bind(replacing)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                let rotated = webhook_by_id(&mut *tx, id).await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(rotated)
            }

            async fn webhook_deliveries(
                &self,
                endpoint_id: Uuid,
                status: Option<DeliveryStatus>,
                page: Page,
            ) -> Result<(Vec<WebhookDeliveryRecord>, u64)> {
                let status = status.map(DeliveryStatus::as_str);
                let rows = query(concat!(
                    "SELECT ",
                    delivery_columns!(),
                    " FROM webhook_deliveries WHERE endpoint_id = $1 \
                     AND ($2 IS NULL OR status = $2) \
                     ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
                ))
                .bind(endpoint_id)
                .bind(status)
                .bind(i64::try_from(page.limit).unwrap_or(i64::MAX))
                .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?;
                let total = query(
                    "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE endpoint_id = $1 \
                     AND ($2 IS NULL OR status = $2)",
                )
                .bind(endpoint_id)
                .bind(status)
                .fetch_one(&self.pool)
                .await?;
                let deliveries = rows.iter().map(delivery_from_row).collect::<Result<Vec<_>>>()?;
                Ok((deliveries, count(total.try_get::<i64, _>("n")?)))
            }

            async fn retry_webhook_delivery(
                &self,
                endpoint_id: Uuid,
                delivery_id: Uuid,
                now: Timestamp,
            ) -> Result<Option<WebhookDeliveryRecord>> {
                query(
                    "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1 \
                     WHERE id = $2 AND endpoint_id = $3 AND status <> 'pending'",
                )
                .bind(ts(now))
                .bind(delivery_id)
                .bind(endpoint_id)
                .execute(&self.pool)
                .await?;
                query(concat!(
                    "SELECT ",
                    delivery_columns!(),
                    " FROM webhook_deliveries WHERE id = $1 AND endpoint_id = $2"
                ))
                .bind(delivery_id)
                .bind(endpoint_id)
                .fetch_optional(&self.pool)
                .await?
                .as_ref()
                .map(delivery_from_row)
                .transpose()
            }

            async fn enqueue_webhook_delivery(&self, delivery: WebhookDeliveryRecord) -> Result<()> {
                let mut tx = begin(self).await?;
                insert_webhook_delivery(&mut tx, &delivery).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn claim_webhook_delivery(
                &self,
                now: Timestamp,
                lease: Duration,
            ) -> Result<Option<(WebhookDeliveryRecord, WebhookEndpointRecord)>> {
                // The head of each enabled endpoint's queue (no older pending delivery of the
                // same endpoint), due and unclaimed. The claim's test is repeated in the outer
                // WHERE: a worker that waited on a row another one just claimed re-reads it
                // and skips it, so two instances never hold one endpoint's head at once.
                let row = if RETURNING {
                    query(concat!(
                        "UPDATE webhook_deliveries SET locked_until = $1 \
                         WHERE id = (SELECT d.id FROM webhook_deliveries d \
                                     JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                                     WHERE d.status = 'pending' AND e.enabled = TRUE \
                                     AND d.next_attempt_at <= $2 \
                                     AND (d.locked_until IS NULL OR d.locked_until <= $2) \
                                     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
                                         WHERE p.endpoint_id = d.endpoint_id AND p.status = 'pending' \
                                         AND (p.created_at < d.created_at \
                                              OR (p.created_at = d.created_at AND p.id < d.id))) \
                                     ORDER BY d.next_attempt_at, d.id LIMIT 1) \
                         AND status = 'pending' AND (locked_until IS NULL OR locked_until <= $2) \
                         RETURNING ",
                        delivery_columns!()
                    ))
                    .bind(ts(now + lease))
                    .bind(ts(now))
                    .fetch_optional(&self.pool)
                    .await?
                } else {
                    // MySQL cannot UPDATE a table its subquery reads, nor return what it
                    // changed: the head is read under its lock (skipping one another worker
                    // is claiming right now), leased, and read back in one transaction.
                    let mut tx = begin(self).await?;
                    let head: Option<Uuid> = query_scalar(
                        "SELECT d.id FROM webhook_deliveries d \
                         JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                         WHERE d.status = 'pending' AND e.enabled = TRUE \
                         AND d.next_attempt_at <= $1 \
                         AND (d.locked_until IS NULL OR d.locked_until <= $1) \
                         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
                             WHERE p.endpoint_id = d.endpoint_id AND p.status = 'pending' \
                             AND (p.created_at < d.created_at \
                                  OR (p.created_at = d.created_at AND p.id < d.id))) \
                         ORDER BY d.next_attempt_at, d.id LIMIT 1 FOR UPDATE SKIP LOCKED",
                    )
                    .bind(ts(now))
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some(head) = head else {
                        // Ended here, not by dropping it: a dropped transaction is rolled back
                        // only when its connection is back in the pool, a moment later, and
                        // until then its locks make the next claim (on another connection)
                        // skip every row this one scanned.
                        tx.commit().await?;
                        return Ok(None);
                    };
                    query(
                        "UPDATE webhook_deliveries SET locked_until = $1 WHERE id = $2 \
                         AND status = 'pending' AND (locked_until IS NULL OR locked_until <= $3)",
                    )
                    .bind(ts(now + lease))
                    .bind(head)
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await?;
                    let row = query(concat!(
                        "SELECT ",
                        delivery_columns!(),
                        " FROM webhook_deliveries WHERE id = $1"
                    ))
                    .bind(head)
                    .fetch_optional(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    row
                };
                let Some(row) = row else {
                    return Ok(None);
                };
                let delivery = delivery_from_row(&row)?;
                let endpoint = webhook_by_id(&self.pool, delivery.endpoint_id)
                    .await?
                    .ok_or(Error::NotFound("webhook"))?;
                Ok(Some((delivery, endpoint)))
            }

            async fn record_webhook_attempt(
                &self,
                delivery_id: Uuid,
                outcome: $crate::webhooks::store::AttemptOutcome,
                now: Timestamp,
            ) -> Result<()> {
                use $crate::webhooks::store::AttemptOutcome;
                let mut tx = begin(self).await?;
                let (status, code, error, next, delivered) = match outcome {
                    AttemptOutcome::Delivered { status_code } => {
                        ("delivered", Some(i32::from(status_code)), None, None, true)
                    }
                    AttemptOutcome::Failed {
                        status_code,
                        error,
                        retry_at,
                    } => (
                        if retry_at.is_some() { "pending" } else { "failed" },
                        status_code.map(i32::from),
                        Some(error),
                        retry_at,
                        false,
                    ),
                };
                let update = query(if RETURNING {
                    "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, \
                     locked_until = NULL, last_status_code = $2, last_error = $3, \
                     next_attempt_at = COALESCE($4, next_attempt_at), \
                     delivered_at = CASE WHEN $5 THEN $6 ELSE delivered_at END \
                     WHERE id = $7 RETURNING endpoint_id"
                } else {
                    "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, \
                     locked_until = NULL, last_status_code = $2, last_error = $3, \
                     next_attempt_at = COALESCE($4, next_attempt_at), \
                     delivered_at = CASE WHEN $5 THEN $6 ELSE delivered_at END \
                     WHERE id = $7"
                })
                .bind(status)
                .bind(code)
                .bind(error)
                .bind(opt_ts(next))
                .bind(delivered)
                .bind(ts(now))
                .bind(delivery_id);
                let row = if RETURNING {
                    update.fetch_optional(&mut *tx).await?
                } else if update.execute(&mut *tx).await?.rows_affected() == 0 {
                    None
                } else {
                    // MySQL: no UPDATE ... RETURNING; the changed row is read back in the
                    // transaction that holds its lock.
                    query("SELECT endpoint_id FROM webhook_deliveries WHERE id = $1")
                        .bind(delivery_id)
                        .fetch_optional(&mut *tx)
                        .await?
                };
                if let Some(row) = row {
                    let endpoint_id: Uuid = row.try_get("endpoint_id")?;
                    let health = if delivered {
                        "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1"
                    } else {
                        "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2) \
                         WHERE id = $1"
                    };
                    let mut query = query(health).bind(endpoint_id);
                    if !delivered {
                        query = query.bind(ts(now));
                    }
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn disable_failing_webhook(
                &self,
                id: Uuid,
                failing_before: Timestamp,
                now: Timestamp,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                let done = query(
                    "UPDATE webhook_endpoints SET enabled = FALSE, updated_at = $1 \
                     WHERE id = $2 AND enabled = TRUE AND failing_since <= $3",
                )
                .bind(ts(now))
                .bind(id)
                .bind(ts(failing_before))
                .execute(&mut *tx)
                .await?;
                commit_if_changed(tx, done.rows_affected(), effects).await
            }

            async fn users_with_permission(&self, permission: &str) -> Result<Vec<Uuid>> {
                let rows = query(
                    "SELECT DISTINCT ur.user_id FROM user_roles ur \
                     JOIN role_permissions rp ON rp.role_id = ur.role_id \
                     JOIN users u ON u.id = ur.user_id \
                     WHERE rp.permission = $1 AND u.deleted_at IS NULL ORDER BY ur.user_id",
                )
                .bind(permission)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| r.try_get::<Uuid, _>("user_id").map_err(Error::from))
                    .collect()
            }

            async fn delete_finished_webhook_deliveries(
                &self,
                before: Timestamp,
                limit: usize,
            ) -> Result<u64> {
                let deleted = query(
                    // The batch is a derived table: MySQL allows no LIMIT in an IN subquery,
                    // nor a subquery on the table a DELETE changes.
                    "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM (SELECT id \
                     FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1 \
                     LIMIT $2) batch)",
                )
                .bind(ts(before))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .execute(&self.pool)
                .await?;
                Ok(deleted.rows_affected())
            }

            async fn webhook_backlog(&self) -> Result<(u64, Option<Timestamp>)> {
                let row = query(
                    "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM webhook_deliveries \
                     WHERE status = 'pending'",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok((
                    count(row.try_get::<i64, _>("n")?),
                    opt_from_ts(row.try_get("oldest")?)?,
                ))
            }
        }
    };
}
pub(crate) use webhooks_sql;
