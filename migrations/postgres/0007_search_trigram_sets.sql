-- Substring search that the planner cannot turn into a scan (0006 let it: the worst query of
-- ../shared/reviews/security.md, 99 × 的 + 乙 over 5,000 texts of 4,000 characters, took 3.7 s
-- because the planner evaluated courier_trigrams on every row, about 7 ms per text, instead of
-- probing the GIN index).
--
-- 1. The function returns each trigram once: the worst query's array shrinks from 99 entries
--    to 2, and a text's entry from 4,000 to its distinct trigrams. It is declared costly (COST
--    is in units of an operator call), which is the truth: about 1.8 µs per character.
-- 2. The trigram set is stored beside the text (a generated column, computed on every INSERT
--    and UPDATE, so a recall's content = '' empties it), and the GIN index is on that column.
--    A row's test is then an array comparison, whichever plan is chosen: an id-ordered scan
--    that stops after a page of hits for common substrings, the index for rare ones.
-- 3. courier_holds is the ILIKE that decides on the candidates. As a plain ILIKE the planner
--    estimates a long pattern to match almost nothing and picks a full scan and sort over an
--    id-ordered scan that would stop at the first page (99 × 的 matching every text took
--    175 ms); as a function it is estimated at the default selectivity (a third) and the
--    SET clause keeps it from being inlined back into an ILIKE. With all three, the worst
--    query takes 0.08 ms and 99 × 的 1.4 ms here (EXPLAIN ANALYZE, 5,000 × 4,000 characters).
--
-- Adding the column rewrites the table, computing the set for every message (about 1.8 µs
-- per character) while writes wait; the old index goes first.
CREATE OR REPLACE FUNCTION courier_trigrams(t text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT COST 10000
    AS $$ SELECT coalesce(array_agg(DISTINCT g), '{}') FROM (
        SELECT c || lead(c, 1) OVER w || lead(c, 2) OVER w AS g
        FROM unnest(string_to_array(lower(t), NULL)) WITH ORDINALITY AS u(c, n)
        WINDOW w AS (ORDER BY n)) s
    WHERE g IS NOT NULL $$;

DROP INDEX idx_messages_trigrams;

ALTER TABLE messages
    ADD COLUMN content_trigrams text[] GENERATED ALWAYS AS (courier_trigrams(content)) STORED;

CREATE INDEX idx_messages_trigrams ON messages USING GIN (content_trigrams) WITH (fastupdate = off);

-- 4. Both GIN indexes take each message's keys into the index as it is written (fastupdate off).
--    With the default, new entries collect in a pending list that every search scans in full and
--    that the write which overflows it (4 MB) merges itself: after 5,000 messages of 4,000
--    characters a search took 0.65 s and one send 21.8 s (courier-bench search, PostgreSQL).
--    A message's write now costs its own keys, about 1 µs per character here, and nothing more.
ALTER INDEX idx_messages_search SET (fastupdate = off);
SELECT gin_clean_pending_list('idx_messages_search'::regclass);

CREATE FUNCTION courier_holds(t text, pattern text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    SET search_path = pg_catalog
    AS $$ SELECT t ILIKE pattern ESCAPE '\' $$;
