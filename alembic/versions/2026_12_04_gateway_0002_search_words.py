"""Gateway: each user's search vocabulary, so that typo search looks up words, not tasks.

Typo search used to check every candidate task's text word by word (levenshtein over
regexp_split_to_table of title and notes): seconds over long notes, an error for words longer
than 255 characters, and a walk over every task when a typo was close to a common word by
trigrams but not by edit distance. Now the words close to a search word are found in this table
(trigram index, edit distance on words of plausible length only) and tasks are matched by those
exact words through the full-text index, and the trigram index over whole task texts goes.

Rows are added by a trigger in the transaction that writes the task and never removed while the
user exists: a word no task contains any more matches nothing, so the table only has to be a
superset of the words in use.

Revision ID: gateway_0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "gateway_0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the vocabulary table, its trigger and indexes, and fill it from existing tasks."""
    op.execute(
        """
        CREATE TABLE gateway.search_words (
            user_id uuid NOT NULL REFERENCES gateway.users (id) ON DELETE CASCADE,
            word text NOT NULL,
            PRIMARY KEY (user_id, word)
        )
        """
    )
    op.execute(
        """
        CREATE FUNCTION gateway.remember_search_words() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO gateway.search_words (user_id, word)
            SELECT NEW.user_id, lexeme
            FROM unnest(tsvector_to_array(NEW.search_vector)) AS lexeme
            ON CONFLICT DO NOTHING;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER tasks_search_words AFTER INSERT ON gateway.tasks
        FOR EACH ROW EXECUTE FUNCTION gateway.remember_search_words()
        """
    )
    op.execute(
        """
        CREATE TRIGGER tasks_search_words_changed AFTER UPDATE ON gateway.tasks
        FOR EACH ROW WHEN (OLD.search_vector IS DISTINCT FROM NEW.search_vector)
        EXECUTE FUNCTION gateway.remember_search_words()
        """
    )
    op.execute(
        """
        INSERT INTO gateway.search_words (user_id, word)
        SELECT DISTINCT user_id, lexeme
        FROM gateway.tasks, unnest(tsvector_to_array(search_vector)) AS lexeme
        ON CONFLICT DO NOTHING
        """
    )
    op.execute(
        "CREATE INDEX search_words_trgm ON gateway.search_words USING gin (word gin_trgm_ops)"
    )
    # Nothing reads the trigrams of whole task texts any more; they cost every write of a task
    # (a 20,000-character note is a few thousand trigrams).
    op.execute("DROP INDEX gateway.tasks_search_trgm")


def downgrade() -> None:
    """Drop the vocabulary; typo search goes back to the trigrams of the task texts."""
    op.execute(
        "CREATE INDEX tasks_search_trgm ON gateway.tasks "
        "USING gin ((title || ' ' || notes) gin_trgm_ops)"
    )
    op.execute("DROP TRIGGER tasks_search_words_changed ON gateway.tasks")
    op.execute("DROP TRIGGER tasks_search_words ON gateway.tasks")
    op.execute("DROP FUNCTION gateway.remember_search_words()")
    op.execute("DROP TABLE gateway.search_words")
