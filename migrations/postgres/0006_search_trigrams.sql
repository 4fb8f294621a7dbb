-- Substring search (CJK queries: src/store/search) through an index instead of an ILIKE scan of
-- every message the viewer can see. An ILIKE '%…%' test costs up to (text length × pattern
-- length): 99 × 的 + 乙 against 2,000 texts of 4,000 characters took 1.9 s here
-- (../shared/reviews/security.md #1). A GIN index on the set of the text's trigrams finds the
-- messages that hold every trigram of a substring; ILIKE then decides on those few.
--
-- Not pg_trgm: it only takes trigrams from runs of characters the database's LC_CTYPE calls
-- alphanumeric, and under the C locale (PostgreSQL 15 tests only the first byte of a multibyte
-- character there) Chinese, Japanese and Korean text has none: show_trgm('的的的乙') is {}. The
-- trigrams here are every three consecutive characters, whatever the locale.
--
-- Case is folded with the database's lower(), as ILIKE folds it, so no ILIKE match is ever
-- missing from the candidates. A recall sets content = '', which empties the entry. Building the
-- index reads every message (about 0.6 µs per character here) and blocks writes meanwhile.
-- Queries must use this very expression (`courier_trigrams(m.content) @> courier_trigrams($1)`).
CREATE FUNCTION courier_trigrams(t text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT coalesce(array_agg(g), '{}') FROM (
        SELECT c || lead(c, 1) OVER w || lead(c, 2) OVER w AS g
        FROM unnest(string_to_array(lower(t), NULL)) WITH ORDINALITY AS u(c, n)
        WINDOW w AS (ORDER BY n)) s
    WHERE g IS NOT NULL $$;

CREATE INDEX idx_messages_trigrams ON messages USING GIN (courier_trigrams(content));
