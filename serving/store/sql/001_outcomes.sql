-- Experiment evidence: served playlists (feedback is validated against them), feedback
-- events (one per playlist, track and event: the dedup key), and per-arm aggregates kept
-- up to date by the same transactions, so a summary reads a few rows per arm.

CREATE TABLE served_playlists (
  playlist_id   TEXT PRIMARY KEY,
  experiment_id TEXT,
  arm           TEXT NOT NULL,
  track_ids     TEXT NOT NULL,               -- JSON array, in served order
  n_tracks      INTEGER NOT NULL,
  likes         INTEGER NOT NULL DEFAULT 0,
  converted     INTEGER NOT NULL DEFAULT 0,  -- 1 once any track was liked or saved
  user_key      TEXT,
  served_at     DOUBLE PRECISION NOT NULL,   -- unix seconds
  expires_at    DOUBLE PRECISION NOT NULL
);
CREATE INDEX served_playlists_expires ON served_playlists (expires_at);
CREATE INDEX served_playlists_experiment ON served_playlists (experiment_id);

CREATE TABLE feedback_events (
  playlist_id TEXT NOT NULL,
  track_id    TEXT NOT NULL,
  event       TEXT NOT NULL,
  received_at DOUBLE PRECISION NOT NULL,
  expires_at  DOUBLE PRECISION NOT NULL,     -- the playlist's: deleted with it
  PRIMARY KEY (playlist_id, track_id, event)
);
CREATE INDEX feedback_events_expires ON feedback_events (expires_at);

CREATE TABLE experiments (
  experiment_id TEXT PRIMARY KEY,
  first_seen    DOUBLE PRECISION NOT NULL,
  last_seen     DOUBLE PRECISION NOT NULL,
  weights       TEXT                         -- JSON: the weights of the latest assignment
);

CREATE TABLE arm_stats (
  experiment_id TEXT NOT NULL,
  arm           TEXT NOT NULL,
  assigned      BIGINT NOT NULL DEFAULT 0,
  served        BIGINT NOT NULL DEFAULT 0,
  errors        BIGINT NOT NULL DEFAULT 0,
  expected      DOUBLE PRECISION NOT NULL DEFAULT 0,  -- sum of this arm's weight over assignments (SRM)
  converted     BIGINT NOT NULL DEFAULT 0,
  fallbacks     BIGINT NOT NULL DEFAULT 0,
  tracks_served BIGINT NOT NULL DEFAULT 0,
  like_yy       DOUBLE PRECISION NOT NULL DEFAULT 0,  -- per-playlist sums for the cluster-robust like rate
  like_mm       DOUBLE PRECISION NOT NULL DEFAULT 0,
  like_ym       DOUBLE PRECISION NOT NULL DEFAULT 0,
  PRIMARY KEY (experiment_id, arm)
);

CREATE TABLE arm_events (
  experiment_id TEXT NOT NULL,
  arm           TEXT NOT NULL,
  event         TEXT NOT NULL,
  n             BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (experiment_id, arm, event)
);

CREATE TABLE arm_latency (
  experiment_id TEXT NOT NULL,
  arm           TEXT NOT NULL,
  bucket        INTEGER NOT NULL,            -- index into LATENCY_BOUNDS_MS
  n             BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (experiment_id, arm, bucket)
);

CREATE TABLE shadow_stats (
  experiment_id  TEXT PRIMARY KEY,
  runs           BIGINT NOT NULL DEFAULT 0,
  errors         BIGINT NOT NULL DEFAULT 0,
  dropped        BIGINT NOT NULL DEFAULT 0,
  overlap_sum    DOUBLE PRECISION NOT NULL DEFAULT 0,
  latency_sum_ms DOUBLE PRECISION NOT NULL DEFAULT 0
);
