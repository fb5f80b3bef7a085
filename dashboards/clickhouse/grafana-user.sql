-- Grafana executes dashboard SQL as written, so it gets a user that can only read darkroom's tables.
-- readonly = 2 (not 1): the Grafana plugin sets max_execution_time on each query.
CREATE USER IF NOT EXISTS grafana IDENTIFIED WITH sha256_password BY 'grafana' SETTINGS readonly = 2;
GRANT SELECT ON darkroom.* TO grafana;
