Added token content guards for distributions (`HF_TOKEN` clients), strict validation of repo ids, revisions and paths, and hub tokens scoped to the hub's own origin.
