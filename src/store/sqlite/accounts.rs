//! SQLite: users and sessions (and the health round trip).

use super::*;

#[async_trait]
impl AccountStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        hash: &str,
        now: i64,
    ) -> StoreResult<Option<User>> {
        let t = Instant::now();
        let res = sqlx::query(
            "INSERT INTO users (username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (username) DO NOTHING RETURNING id, username, display_name, created_at",
        )
        .bind(username)
        .bind(display_name)
        .bind(hash)
        .bind(now)
        .fetch_optional(&mut self.writer().await.conn)
        .await?;
        self.observe("create_user", t);
        Ok(res.as_ref().map(user_from_row).transpose()?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        let row = sqlx::query("SELECT id, username, display_name, created_at, password_hash FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.read)
            .await?;
        match row {
            Some(r) => Ok(Some((user_from_row(&r)?, r.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn search_users(
        &self,
        query: &str,
        exclude: UserId,
        limit: i64,
    ) -> StoreResult<Vec<User>> {
        // LIKE metacharacters in the query are escaped so they match literally.
        let escaped = query
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        let rows = sqlx::query(
            "SELECT id, username, display_name, created_at FROM users \
             WHERE id <> ? AND (username LIKE ? ESCAPE '\\' OR display_name LIKE ? ESCAPE '\\') \
             ORDER BY (username = ? COLLATE NOCASE) DESC, length(username), username LIMIT ?",
        )
        .bind(exclude)
        .bind(&pattern)
        .bind(&pattern)
        .bind(query)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.iter().map(user_from_row).collect::<Result<_, _>>()?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn create_session(
        &self,
        token_hash: &str,
        user_id: UserId,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut self.writer().await.conn)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn session_user(&self, token_hash: &str, now: i64) -> StoreResult<Option<(User, i64)>> {
        let t = Instant::now();
        let row = sqlx::query(
            "SELECT u.id, u.username, u.display_name, u.created_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = ? AND s.expires_at > ?",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.read)
        .await?;
        self.observe("session_user", t);
        let Some(row) = row else { return Ok(None) };
        Ok(Some((user_from_row(&row)?, row.try_get("expires_at")?)))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&mut self.writer().await.conn)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_user_sessions(&self, user_id: UserId) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut self.writer().await.conn)
            .await?;
        Ok(r.rows_affected())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_expired_sessions(&self, now: i64) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(now)
            .execute(&mut self.writer().await.conn)
            .await?;
        Ok(r.rows_affected())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn set_password_hash(&self, user_id: UserId, password_hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(user_id)
            .execute(&mut self.writer().await.conn)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn is_operator(&self, user_id: UserId) -> StoreResult<bool> {
        let grant: Option<Option<String>> =
            sqlx::query_scalar("SELECT operator_grant FROM users WHERE id = ?")
                .bind(user_id)
                .fetch_optional(&self.read)
                .await?;
        Ok(matches!(grant, Some(Some(_))))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn set_operator(
        &self,
        username: &str,
        grant: Option<OperatorGrant>,
    ) -> StoreResult<Option<User>> {
        // `username` compares without letter case: the column is COLLATE NOCASE.
        let row = sqlx::query(
            "UPDATE users SET operator_grant = ? WHERE username = ? \
             RETURNING id, username, display_name, created_at",
        )
        .bind(grant.map(OperatorGrant::as_str))
        .bind(username)
        .fetch_optional(&mut self.writer().await.conn)
        .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn operators(&self) -> StoreResult<Vec<(User, OperatorGrant)>> {
        let rows = sqlx::query(
            "SELECT id, username, display_name, created_at, operator_grant FROM users \
             WHERE operator_grant IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let grant: String = r.try_get("operator_grant")?;
            // The column's CHECK constraint allows nothing else.
            let grant = OperatorGrant::parse(&grant).ok_or_else(|| {
                sqlx::Error::Decode(format!("users.operator_grant {grant:?}").into())
            })?;
            out.push((user_from_row(r)?, grant));
        }
        Ok(out)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn sync_operator_list(
        &self,
        names: &[String],
        now: i64,
    ) -> StoreResult<OperatorListChanges> {
        let mut writer = self.writer().await;
        let mut tx = writer.conn.begin().await?;
        let remembered: Vec<String> = sqlx::query_scalar("SELECT name FROM operator_names")
            .fetch_all(&mut *tx)
            .await?;
        let (fresh, gone) = operator_list_diff(names, &remembered);
        let mut changes = OperatorListChanges::default();
        for name in gone {
            sqlx::query("DELETE FROM operator_names WHERE name = ?")
                .bind(&name)
                .execute(&mut *tx)
                .await?;
            let r = sqlx::query(
                "UPDATE users SET operator_grant = NULL WHERE username = ? AND operator_grant = 'config'",
            )
            .bind(&name)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() > 0 {
                changes.revoked.push(name);
            }
        }
        for name in fresh {
            sqlx::query("INSERT INTO operator_names (name, first_listed_at) VALUES (?, ?)")
                .bind(&name)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let r = sqlx::query(
                "UPDATE users SET operator_grant = 'config' WHERE username = ? AND operator_grant IS NULL",
            )
            .bind(&name)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() > 0 {
                changes.granted.push(name);
            }
        }
        for name in names {
            let held: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM users WHERE username = ? AND operator_grant IS NOT NULL",
            )
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
            if held.is_none() {
                changes.not_granted.push(name.clone());
            }
        }
        tx.commit().await?;
        Ok(changes)
    }
}
