"""Signed, chained checkpoints and heads; entries deleted only under a checkpoint.

Checkpoints become a chain of their own (number, first and last entry removed, the newest
removed entry's time, the previous checkpoint's digest, their digest and the audit key's
signature); each chain head names the newest checkpoint and is signed too. The key lives
outside the database, so these columns are filled by the audit service: checkpoints and heads
kept before this migration are signed once, as found, by the first audit service that starts
after it (`trail.seal_legacy`, which records that in `audit.seals`).

The triggers refuse, to whoever connects without switching triggers off:
- entries: every UPDATE and TRUNCATE, and a DELETE unless a checkpoint covers the entry, ends
  at its hash when it is the last one covered, and was cut off after the entry's time (the
  retention path) or the transaction erases that user (deletion of the account);
- checkpoints: an INSERT that does not follow the user's last checkpoint over existing entries
  older than its cutoff; UPDATE but the one-time signing of an unsigned checkpoint; DELETE
  but the erasure of the user; TRUNCATE;
- heads: an INSERT not at the start, a move back or to anything but the user's newest entry,
  naming a checkpoint other than the newest; DELETE but the erasure of the user; TRUNCATE.

Revision ID: audit_0003
Revises: audit_0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "audit_0003"
down_revision = "audit_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the columns and the triggers (see the module's docstring)."""
    op.execute(
        """
        ALTER TABLE audit.chain_heads
            ADD COLUMN last_checkpoint text NOT NULL DEFAULT repeat('0', 64),
            ADD COLUMN signature text
        """
    )
    op.execute(
        """
        ALTER TABLE audit.checkpoints
            ADD COLUMN number integer,
            ADD COLUMN from_seq bigint,
            ADD COLUMN newest_at timestamptz,
            ADD COLUMN previous_checkpoint text,
            ADD COLUMN digest text,
            ADD COLUMN signature text
        """
    )
    # Existing checkpoints: numbered in order, each starting after the one before.
    op.execute(
        """
        UPDATE audit.checkpoints AS c SET number = n.number, from_seq = n.from_seq
        FROM (
            SELECT user_id, through_seq, row_number() OVER w AS number,
                   coalesce(lag(through_seq) OVER w, 0) + 1 AS from_seq
            FROM audit.checkpoints
            WINDOW w AS (PARTITION BY user_id ORDER BY through_seq)
        ) AS n
        WHERE c.user_id = n.user_id AND c.through_seq = n.through_seq
        """
    )
    op.execute(
        """
        ALTER TABLE audit.checkpoints
            ALTER COLUMN number SET NOT NULL,
            ALTER COLUMN from_seq SET NOT NULL,
            ADD CONSTRAINT checkpoints_user_number UNIQUE (user_id, number)
        """
    )
    op.execute(
        """
        CREATE TABLE audit.seals (
            id integer PRIMARY KEY CHECK (id = 1),
            signature text NOT NULL,
            sealed_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE FUNCTION audit.erasing(target uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
            SELECT coalesce(current_setting('taskstream.audit_erase', true), '') = target::text
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION audit.guard_entries() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                IF audit.erasing(OLD.user_id) OR EXISTS (
                    SELECT 1 FROM audit.checkpoints AS c
                    WHERE c.user_id = OLD.user_id
                      AND OLD.seq BETWEEN c.from_seq AND c.through_seq
                      AND OLD.at < c.oldest_kept_after
                      AND (OLD.seq < c.through_seq OR OLD.hash = c.hash)
                ) THEN
                    RETURN OLD;
                END IF;
                RAISE EXCEPTION 'audit entries are append-only (DELETE of entry % refused: '
                    'only retention removes entries, older than the cutoff of a checkpoint '
                    'covering them)', OLD.seq USING ERRCODE = 'insufficient_privilege';
            END IF;
            RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute("DROP TRIGGER entries_append_only ON audit.entries")
    op.execute("DROP TRIGGER entries_no_truncate ON audit.entries")
    op.execute(
        """
        CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON audit.entries
        FOR EACH ROW EXECUTE FUNCTION audit.guard_entries()
        """
    )
    op.execute(
        """
        CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON audit.entries
        FOR EACH STATEMENT EXECUTE FUNCTION audit.guard_entries()
        """
    )
    op.execute(
        """
        CREATE FUNCTION audit.guard_checkpoints() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            last_number integer;
            last_through bigint;
            last_digest text;
        BEGIN
            IF TG_OP = 'INSERT' THEN
                SELECT number, through_seq, digest INTO last_number, last_through, last_digest
                FROM audit.checkpoints WHERE user_id = NEW.user_id
                ORDER BY number DESC LIMIT 1;
                IF NEW.number <> coalesce(last_number, 0) + 1
                   OR NEW.from_seq <> coalesce(last_through, 0) + 1
                   OR NEW.through_seq < NEW.from_seq
                   OR NEW.removed <> NEW.through_seq - NEW.from_seq + 1
                   OR NEW.previous_checkpoint IS DISTINCT FROM
                      coalesce(last_digest, repeat('0', 64))
                   OR NEW.oldest_kept_after > NEW.created_at
                   OR NOT EXISTS (
                       SELECT 1 FROM audit.entries AS e
                       WHERE e.user_id = NEW.user_id AND e.seq = NEW.through_seq
                         AND e.hash = NEW.hash)
                   OR EXISTS (
                       SELECT 1 FROM audit.entries AS e
                       WHERE e.user_id = NEW.user_id
                         AND e.seq BETWEEN NEW.from_seq AND NEW.through_seq
                         AND e.at >= NEW.oldest_kept_after)
                THEN
                    RAISE EXCEPTION 'audit checkpoints are append-only and in sequence '
                        '(checkpoint % refused: it must follow the last one, over existing '
                        'entries older than its cutoff)', NEW.number
                            USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN NEW;
            END IF;
            IF TG_OP = 'UPDATE' AND OLD.signature IS NULL AND NEW.signature IS NOT NULL
               AND (NEW.user_id, NEW.number, NEW.from_seq, NEW.through_seq, NEW.hash,
                    NEW.removed, NEW.newest_at, NEW.oldest_kept_after, NEW.created_at)
                   IS NOT DISTINCT FROM
                   (OLD.user_id, OLD.number, OLD.from_seq, OLD.through_seq, OLD.hash,
                    OLD.removed, OLD.newest_at, OLD.oldest_kept_after, OLD.created_at) THEN
                RETURN NEW;
            END IF;
            IF TG_OP = 'DELETE' AND audit.erasing(OLD.user_id) THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION 'audit checkpoints are append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER checkpoints_append_only BEFORE INSERT OR UPDATE OR DELETE
        ON audit.checkpoints FOR EACH ROW EXECUTE FUNCTION audit.guard_checkpoints()
        """
    )
    op.execute(
        """
        CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON audit.checkpoints
        FOR EACH STATEMENT EXECUTE FUNCTION audit.guard_checkpoints()
        """
    )
    op.execute(
        """
        CREATE FUNCTION audit.guard_heads() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                IF NEW.last_seq <> 0 OR NEW.last_hash <> repeat('0', 64)
                   OR NEW.last_checkpoint <> repeat('0', 64) THEN
                    RAISE EXCEPTION 'audit chain heads start at the beginning (INSERT refused)'
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN NEW;
            END IF;
            IF TG_OP = 'DELETE' AND audit.erasing(OLD.user_id) THEN
                RETURN OLD;
            END IF;
            IF TG_OP <> 'UPDATE' OR NEW.user_id <> OLD.user_id THEN
                RAISE EXCEPTION 'audit chain heads only move forward (% refused)', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF (NEW.last_seq, NEW.last_hash) IS DISTINCT FROM (OLD.last_seq, OLD.last_hash)
               AND (NEW.last_seq <= OLD.last_seq
                    OR NOT EXISTS (
                        SELECT 1 FROM audit.entries AS e
                        WHERE e.user_id = NEW.user_id AND e.seq = NEW.last_seq
                          AND e.hash = NEW.last_hash)
                    OR EXISTS (
                        SELECT 1 FROM audit.entries AS e
                        WHERE e.user_id = NEW.user_id AND e.seq > NEW.last_seq)) THEN
                RAISE EXCEPTION 'audit chain heads only move forward, to the newest entry '
                    '(UPDATE from % to % refused)', OLD.last_seq, NEW.last_seq
                        USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF NEW.last_checkpoint IS DISTINCT FROM OLD.last_checkpoint
               AND NEW.last_checkpoint IS DISTINCT FROM (
                   SELECT digest FROM audit.checkpoints
                   WHERE user_id = NEW.user_id ORDER BY number DESC LIMIT 1) THEN
                RAISE EXCEPTION 'audit chain heads name the newest checkpoint (UPDATE refused)'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER chain_heads_forward_only BEFORE INSERT OR UPDATE OR DELETE
        ON audit.chain_heads FOR EACH ROW EXECUTE FUNCTION audit.guard_heads()
        """
    )
    op.execute(
        """
        CREATE TRIGGER chain_heads_no_truncate BEFORE TRUNCATE ON audit.chain_heads
        FOR EACH STATEMENT EXECUTE FUNCTION audit.guard_heads()
        """
    )
    op.execute(
        """
        CREATE FUNCTION audit.refuse_seal_changes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit seal is permanent (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER seals_permanent BEFORE UPDATE OR DELETE ON audit.seals
        FOR EACH ROW EXECUTE FUNCTION audit.refuse_seal_changes()
        """
    )
    op.execute(
        """
        CREATE TRIGGER seals_no_truncate BEFORE TRUNCATE ON audit.seals
        FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_seal_changes()
        """
    )


def downgrade() -> None:
    """Back to unsigned checkpoints and the retention flag of audit_0001."""
    op.execute("DROP TABLE audit.seals")
    op.execute("DROP FUNCTION audit.refuse_seal_changes()")
    op.execute("DROP TRIGGER chain_heads_forward_only ON audit.chain_heads")
    op.execute("DROP TRIGGER chain_heads_no_truncate ON audit.chain_heads")
    op.execute("DROP FUNCTION audit.guard_heads()")
    op.execute("DROP TRIGGER checkpoints_append_only ON audit.checkpoints")
    op.execute("DROP TRIGGER checkpoints_no_truncate ON audit.checkpoints")
    op.execute("DROP FUNCTION audit.guard_checkpoints()")
    op.execute("DROP TRIGGER entries_append_only ON audit.entries")
    op.execute("DROP TRIGGER entries_no_truncate ON audit.entries")
    op.execute("DROP FUNCTION audit.guard_entries()")
    op.execute("DROP FUNCTION audit.erasing(uuid)")
    op.execute(
        """
        CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON audit.entries
        FOR EACH ROW EXECUTE FUNCTION audit.refuse_changes()
        """
    )
    op.execute(
        """
        CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON audit.entries
        FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_changes()
        """
    )
    op.execute("ALTER TABLE audit.checkpoints DROP CONSTRAINT checkpoints_user_number")
    op.execute(
        """
        ALTER TABLE audit.checkpoints
            DROP COLUMN number, DROP COLUMN from_seq, DROP COLUMN newest_at,
            DROP COLUMN previous_checkpoint, DROP COLUMN digest, DROP COLUMN signature
        """
    )
    op.execute("ALTER TABLE audit.chain_heads DROP COLUMN last_checkpoint, DROP COLUMN signature")
