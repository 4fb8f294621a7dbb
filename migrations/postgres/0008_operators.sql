-- The operator role is stored with the account (docs/SECURITY.md, "Operators"). Before, the
-- `operators` setting named usernames, so whoever registered a listed name that had no account
-- yet became an operator (../shared/reviews/security.md). Now a listed name grants the role only
-- to the account that holds it when the name is first listed; `courier admin grant-operator`,
-- run on the host, grants it to anyone.
--
-- operator_grant: NULL (not an operator), 'config' (granted by the setting, withdrawn when the
-- name leaves it) or 'admin' (granted on the host, withdrawn only there).
ALTER TABLE users ADD COLUMN operator_grant TEXT CHECK (operator_grant IN ('config', 'admin'));

-- The names of the `operators` setting seen so far (lowercased), and when each was first seen.
CREATE TABLE operator_names (
    name            TEXT   PRIMARY KEY,
    first_listed_at BIGINT NOT NULL
);
