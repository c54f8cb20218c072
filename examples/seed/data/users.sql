-- The seed example's users: `make build` turns this file into data/users.db
-- (sqlite3 data/users.db < data/users.sql); the .db is never checked in.
-- Edit here and run `make build` again to change the example's data.
CREATE TABLE users (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE
);
INSERT INTO users (id, name, email) VALUES
    (1, 'alice', 'alice@example.com'),
    (2, 'bob',   'bob@example.com'),
    (3, 'carol', 'carol@example.com'),
    (4, 'dave',  'dave@example.com'),
    (5, 'erin',  'erin@example.com');
