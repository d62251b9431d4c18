//! Feature unification for the workspace (no code). See `workspace-hack/README.md`.
