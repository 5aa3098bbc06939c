"""Service-manager integration: systemd user unit and launchd agent (a later issue)."""
