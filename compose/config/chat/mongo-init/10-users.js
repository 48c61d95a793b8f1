// Run by the mongo image's entrypoint once, when /data/db is empty, as the root user it has just
// created (MONGO_INITDB_ROOT_USERNAME / _PASSWORD_FILE). Each user gets only what it needs;
// passwords come from the Compose file secrets mounted in this container.
// An existing estate keeps its own users: this script does not run on existing data
// (docs/runbooks/migration.md says how to add the exporter and backup users there).
const fs = require("fs");
const secret = (name) => fs.readFileSync(`/run/secrets/${name}`, "utf8").trim();

db.getSiblingDB("rocketchat").createUser({
  user: "rocketchat",
  pwd: secret("mongo_rc_password"),
  roles: [{ role: "readWrite", db: "rocketchat" }, { role: "read", db: "local" }],
});
db.getSiblingDB("admin").createUser({
  user: "exporter",
  pwd: secret("mongo_exporter_password"),
  roles: [{ role: "clusterMonitor", db: "admin" }, { role: "read", db: "local" }],
});
db.getSiblingDB("admin").createUser({
  user: "backup",
  pwd: secret("mongo_backup_password"),
  roles: [{ role: "backup", db: "admin" }, { role: "restore", db: "admin" }],
});
