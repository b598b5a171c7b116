-- Conversational sessions: one row per session, the dialog state as JSON (serving/sessions/state.py).
-- `turns` is the optimistic-concurrency guard: a turn is written only over the state it was computed from.

CREATE TABLE sessions (
  session_id    TEXT PRIMARY KEY,
  user_key      TEXT,
  arm           TEXT NOT NULL,
  experiment_id TEXT,
  turns         INTEGER NOT NULL,
  state         TEXT NOT NULL,               -- JSON DialogState
  created_at    DOUBLE PRECISION NOT NULL,   -- unix seconds
  updated_at    DOUBLE PRECISION NOT NULL
);
CREATE INDEX sessions_updated ON sessions (updated_at);
