"""Config reload (``SIGHUP`` or ``POST /config/reload``) without dropping running jobs.

The file is read and checked whole first; a bad file changes nothing and the error names
every bad entry. Then the new deployment table and router settings are put in force in one
step: new jobs route over the new table at once, running jobs keep polling the deployment
that created them (retired deployments included, see ``routing/live.py``), and the router's
health and rate counters carry over for deployments that stay. The ``settings:`` section and
``database_url`` need a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from vidgate.providers.base import Provider
from vidgate.redact import REDACTOR, known_secrets
from vidgate.routing.config import build_table
from vidgate.routing.live import ReloadSummary
from vidgate.routing.router import Router
from vidgate.settings import ConfigError, environment_snapshot, load_config_file

log = logging.getLogger("vidgate.config")


def reload_config(
    router: Router, config_path: Path | None, providers: Mapping[str, Provider]
) -> ReloadSummary:
    """Re-read ``config_path`` and put its routing in force; ``ConfigError`` leaves all as is."""
    if config_path is None:
        raise ConfigError("the gateway was started without a config file; nothing to reload")
    config = load_config_file(config_path)
    table = build_table(config, providers, environment_snapshot())
    REDACTOR.add(known_secrets(config, "", table))
    summary = router.live.replace(table)
    router.reconfigure(config.router)
    log.info("config reloaded: %s", summary.as_dict())
    return summary
